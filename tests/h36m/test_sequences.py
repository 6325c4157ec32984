"""The sequence table against h36m_data.md §1.4-1.6 and Appendix A; exclusion rules; archive layout."""
from __future__ import annotations

from collections import Counter

import pytest

from pose3d.h36m import layout
from pose3d.h36m import sequences as seqs

ALL_SUBJECTS = [f"S{i}" for i in range(1, 12)]
LABELLED = ["S1", "S5", "S6", "S7", "S8", "S9", "S11"]
CAMERAS = ("54138969", "55011271", "58860488", "60457274")
GROUPS_15 = {"Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
             "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether"}
OFFICIAL_ACTIONS = ["_ALL", "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
                    "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking", "WalkingDog",
                    "WalkingTogether"]  # official ids 1..16

# Appendix A: file base names of the 30 action sequences, in (action id, sub-action) order.
FILE_BASES = {
    "S1": "Directions 1|Directions|Discussion 1|Discussion|Eating 2|Eating|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting 2|SittingDown 2|SittingDown|Smoking 1|Smoking|TakingPhoto 1|TakingPhoto|Waiting 1|Waiting|Walking 1|Walking|WalkingDog 1|WalkingDog|WalkTogether 1|WalkTogether",
    "S5": "Directions 1|Directions 2|Discussion 2|Discussion 3|Eating 1|Eating|Greeting 1|Greeting 2|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown|SittingDown 1|Smoking 1|Smoking|Photo|Photo 2|Waiting 1|Waiting 2|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S6": "Directions 1|Directions|Discussion 1|Discussion|Eating 1|Eating 2|Greeting 1|Greeting|Phoning 1|Phoning|Posing 2|Posing|Purchases 1|Purchases|Sitting 1|Sitting 2|SittingDown 1|SittingDown|Smoking 1|Smoking|Photo|Photo 1|Waiting 3|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S7": "Directions 1|Directions|Discussion 1|Discussion|Eating 1|Eating|Greeting 1|Greeting|Phoning 2|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown|SittingDown 1|Smoking 1|Smoking|Photo|Photo 1|Waiting 1|Waiting 2|Walking 1|Walking 2|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S8": "Directions 1|Directions|Discussion 1|Discussion|Eating 1|Eating|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown|SittingDown 1|Smoking 1|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether 2",
    "S9": "Directions 1|Directions|Discussion 1|Discussion 2|Eating 1|Eating|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown|SittingDown 1|Smoking 1|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S11": "Directions 1|Directions|Discussion 1|Discussion 2|Eating 1|Eating|Greeting 2|Greeting|Phoning 3|Phoning 2|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown|SittingDown 1|Smoking 2|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S2": "Directions 1|Directions|Discussion 1|Discussion|Eating 1|Eating 2|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown 2|SittingDown 3|Smoking 1|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S3": "Directions 1|Directions|Discussion 1|Discussion|Eating 1|Eating 2|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing 2|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown 1|SittingDown|Smoking 1|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking 2|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
    "S4": "Directions 1|Directions|Discussion 1|Discussion|Eating 1|Eating|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown 1|SittingDown 2|Smoking 1|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 2|WalkTogether 3",
    "S10": "Directions 1|Directions|Discussion 1|Discussion 2|Eating 1|Eating|Greeting 1|Greeting|Phoning 1|Phoning|Posing 1|Posing|Purchases 1|Purchases|Sitting 1|Sitting|SittingDown|SittingDown 1|Smoking 2|Smoking|Photo 1|Photo|Waiting 1|Waiting|Walking 1|Walking|WalkDog 1|WalkDog|WalkTogether 1|WalkTogether",
}
# Appendix A / §1.6, summed over the 30 action sequences of each subject:
# (pose frames, mocap frames @200 Hz, video frames of cameras 54138969, 55011271, 58860488, 60457274)
TOTALS = {
    "S1": (62094, 248429, 62152, 62232, 62232, 62152),
    "S5": (99079, 396358, 99113, 99215, 99215, 99113),
    "S6": (62466, 249907, 62496, 62568, 62568, 62496),
    "S7": (101621, 406533, 101658, 101765, 101765, 101658),
    "S8": (64678, 258758, 64710, 64782, 64782, 64710),
    "S9": (79417, 317720, 85560, 85652, 85652, 85560),
    "S11": (58244, 233007, 58276, 58353, 58353, 58276),
    "S2": (86049, 344238, 86079, 86173, 86173, 86079),
    "S3": (66700, 266851, 68683, 68759, 68759, 68683),
    "S4": (75187, 300793, 75217, 75293, 75293, 75217),
    "S10": (112591, 450412, 112628, 112734, 112734, 112628),
}


def rows(subject=None):
    return [s for s in seqs.load_table() if subject is None or s.subject == subject]


# ---------------------------------------------------------------- shape of the table
def test_table_has_32_rows_per_subject():
    table = seqs.load_table()
    assert len(table) == 352
    assert Counter(s.subject for s in table) == {s: 32 for s in ALL_SUBJECTS}
    assert len({(s.subject, s.file_base) for s in table}) == 352  # file names unique per subject
    assert len({(s.subject, s.action_id, s.subaction) for s in table}) == 352


@pytest.mark.parametrize("subject", ALL_SUBJECTS)
def test_every_action_has_two_subactions(subject):
    ids = Counter((s.action_id, s.subaction) for s in rows(subject))
    assert set(ids) == {(a, b) for a in range(1, 17) for b in (1, 2)}
    for s in rows(subject):
        assert s.action == OFFICIAL_ACTIONS[s.action_id - 1]


@pytest.mark.parametrize("subject", ALL_SUBJECTS)
def test_subject_sequences_are_the_30_action_sequences_in_order(subject):
    got = seqs.subject_sequences(subject)
    assert len(got) == 30
    assert all(s.is_action and s.subject == subject for s in got)
    assert [s.file_base for s in got] == FILE_BASES[subject].split("|")
    assert [(s.action_id, s.subaction) for s in got] == [(a, b) for a in range(2, 17) for b in (1, 2)]


def test_unknown_subject_has_no_sequences():
    with pytest.raises(ValueError):
        seqs.subject_sequences("S12")
    with pytest.raises(KeyError):
        seqs.lookup("S1", "Directions 3")
    with pytest.raises(KeyError):
        seqs.lookup("S1", "TakingPhoto 2")


def test_all_sequences_are_video_only():
    for subject in ALL_SUBJECTS:
        alls = [s for s in rows(subject) if s.action_id == 1]
        expected = ["_ALL 2", "_ALL 1"] if subject in ("S2", "S10") else ["_ALL 1", "_ALL"]
        assert [s.file_base for s in sorted(alls, key=lambda s: s.subaction)] == expected
        for s in alls:
            assert not s.is_action and s.key == "" and s.group == "" and s.action == "_ALL"


# ---------------------------------------------------------------- frame counts
@pytest.mark.parametrize("subject", ALL_SUBJECTS)
def test_per_subject_totals(subject):
    actions = seqs.subject_sequences(subject)
    got = (
        sum(s.pose_frames for s in actions),
        sum(s.mocap_frames_200hz for s in actions),
        *(sum(s.video_frames[c] for s in actions) for c in range(4)),
    )
    assert got == TOTALS[subject]


def test_pose_frames_are_mocap_over_four_everywhere():
    for s in seqs.load_table():
        assert s.pose_frames == s.mocap_frames_200hz // 4, s


def test_video_counts_follow_the_a_b_b_a_pattern():
    for s in seqs.load_table():
        a, b, b2, a2 = s.video_frames
        assert a == a2 and b == b2 and 1 <= b - a <= 10, s


def test_video_minus_pose_statistics():
    """§1.6: min(video) - N_pose is 1 in 265 cases, 2 in 61, 0 in 18, larger in 8."""
    diff = Counter()
    large = set()
    for s in seqs.load_table():
        d = min(s.video_frames) - s.pose_frames
        assert d >= 0
        diff[d if d <= 2 else "larger"] += 1
        if d > 2:
            large.add((s.subject, s.file_base))
    assert diff == {1: 265, 2: 61, 0: 18, "larger": 8}
    assert large == {("S1", "SittingDown 2"), ("S1", "SittingDown"), ("S9", "Greeting"), ("S9", "Phoning"),
                     ("S9", "SittingDown 1"), ("S9", "Waiting 1"), ("S9", "Walking"), ("S3", "Walking 1")}


def test_split_totals():
    def frames(subjects, rules=()):
        total = 0
        for subject in subjects:
            for s in seqs.subject_sequences(subject):
                total += s.pose_frames * (4 - len(seqs.excluded_cameras(s, rules)))
        return total

    assert frames(["S1", "S5", "S6", "S7", "S8"]) == 1_559_752
    assert frames(["S9", "S11"]) == 550_644
    assert frames(["S9", "S11"], seqs.resolve_rules(["s11_directions"])) == 543_344
    assert frames(["S9", "S11"], seqs.resolve_rules(["s11_directions_cam54138969"])) == 550_644 - 1825


# ---------------------------------------------------------------- specific rows
def test_s1_directions_1():
    s = seqs.lookup("S1", "Directions 1")
    assert (s.action_id, s.action, s.subaction, s.key, s.folder) == (2, "Directions", 1, "Directions 1", "Directions-1")
    assert s.video_frames == (1384, 1387, 1387, 1384)
    assert (s.mocap_frames_200hz, s.pose_frames) == (5535, 1383)


def test_s5_discussion_2_and_3():
    a, b = seqs.lookup("S5", "Discussion 2"), seqs.lookup("S5", "Discussion 3")
    assert (a.subaction, a.folder, a.pose_frames, a.video_frames) == (1, "Discussion-1", 6090, (6091, 6096, 6096, 6091))
    assert (b.subaction, b.folder, b.pose_frames, b.video_frames) == (2, "Discussion-2", 5935, (5936, 5941, 5941, 5936))
    assert not any(s.file_base == "Discussion" for s in rows("S5"))


def test_s9_damaged_rows():
    w = seqs.lookup("S9", "Waiting 1")
    assert (w.subaction, w.mocap_frames_200hz, w.pose_frames) == (1, 6449, 1612)
    assert w.video_frames == (3390, 3393, 3393, 3390)
    assert (seqs.lookup("S9", "Greeting").pose_frames, seqs.lookup("S9", "Greeting").video_frames[0]) == (1447, 2899)
    assert seqs.lookup("S9", "SittingDown 1").pose_frames == 1554
    assert seqs.lookup("S9", "Walking").pose_frames == 1612
    ph = seqs.lookup("S9", "Phoning")
    assert min(ph.video_frames) - ph.pose_frames == 146


def test_s11_directions():
    s = seqs.lookup("S11", "Directions")
    assert (s.subaction, s.pose_frames, s.folder) == (2, 1825, "Directions-2")
    assert s.key == "Directions"


def test_sub_action_number_is_not_the_file_suffix():
    assert seqs.lookup("S1", "Eating 2").subaction == 1
    assert seqs.lookup("S1", "SittingDown 2").subaction == 1
    assert seqs.lookup("S1", "SittingDown").subaction == 2
    assert seqs.lookup("S6", "Posing 2").subaction == 1
    assert seqs.lookup("S6", "Waiting 3").folder == "Waiting-1"
    assert seqs.lookup("S11", "Phoning 3").subaction == 1
    assert seqs.lookup("S11", "Phoning 2").subaction == 2
    assert seqs.lookup("S3", "Walking 1").pose_frames == 549


# ---------------------------------------------------------------- names and keys
def test_s1_photo_and_walkdog_file_names_and_keys():
    for base, key, folder in [("TakingPhoto 1", "Photo 1", "TakingPhoto-1"), ("TakingPhoto", "Photo", "TakingPhoto-2"),
                              ("WalkingDog 1", "WalkDog 1", "WalkingDog-1"), ("WalkingDog", "WalkDog", "WalkingDog-2")]:
        s = seqs.lookup("S1", base)
        assert (s.key, s.folder, s.group) == (key, folder, key.split(" ")[0])
    # S1 still uses WalkTogether
    assert seqs.lookup("S1", "WalkTogether 1").key == "WalkTogether 1"
    # nobody else uses the long names
    for subject in ALL_SUBJECTS:
        if subject != "S1":
            assert not any(s.file_base.startswith(("TakingPhoto", "WalkingDog")) for s in rows(subject))


def test_canonical_key():
    assert seqs.canonical_key("TakingPhoto 1") == "Photo 1"
    assert seqs.canonical_key("TakingPhoto") == "Photo"
    assert seqs.canonical_key("WalkingDog 1") == "WalkDog 1"
    assert seqs.canonical_key("WalkingDog") == "WalkDog"
    for unchanged in ("WalkTogether 1", "Walking", "Walking 2", "Photo 2", "WalkDog", "SittingDown 1", "Directions"):
        assert seqs.canonical_key(unchanged) == unchanged
    for s in seqs.load_table():
        if s.is_action:
            assert s.key == seqs.canonical_key(s.file_base), s


def test_action_group_uses_the_exact_first_word():
    assert seqs.action_group("SittingDown 1") == "SittingDown"
    assert seqs.action_group("SittingDown") == "SittingDown"
    assert seqs.action_group("Sitting 2") == "Sitting"
    assert seqs.action_group("WalkDog 1") == "WalkDog"
    assert seqs.action_group("WalkTogether") == "WalkTogether"
    assert seqs.action_group("Walking 1") == "Walking"
    assert seqs.action_group("Photo 2") == "Photo"
    for bad in ("Walk", "Sit", "Walking1", "walking", "", "_ALL 1", "Discuss 1"):
        with pytest.raises(ValueError):
            seqs.action_group(bad)


def test_action_groups_are_the_15_reporting_groups():
    assert set(seqs.ACTION_GROUPS) == GROUPS_15 and len(seqs.ACTION_GROUPS) == 15
    assert seqs.OFFICIAL_TO_GROUP["TakingPhoto"] == "Photo"
    assert seqs.OFFICIAL_TO_GROUP["WalkingDog"] == "WalkDog"
    assert seqs.OFFICIAL_TO_GROUP["WalkingTogether"] == "WalkTogether"


@pytest.mark.parametrize("subject", ALL_SUBJECTS)
def test_each_group_appears_twice_per_subject(subject):
    actions = seqs.subject_sequences(subject)
    assert Counter(seqs.action_group(s.key) for s in actions) == {g: 2 for g in GROUPS_15}
    for s in actions:
        assert s.group == seqs.action_group(s.key)


def test_folder_names_use_official_action_and_sub_action():
    for s in seqs.load_table():
        if s.is_action:
            assert s.folder == f"{s.action}-{s.subaction}"


# ---------------------------------------------------------------- exclusion rules
def test_s11_directions_rule_drops_all_cameras_of_directions_only():
    rules = seqs.resolve_rules(["s11_directions"])
    assert seqs.excluded_cameras(seqs.lookup("S11", "Directions"), rules) == CAMERAS
    assert seqs.excluded_cameras(seqs.lookup("S11", "Directions 1"), rules) == ()
    assert seqs.excluded_cameras(seqs.lookup("S9", "Directions"), rules) == ()
    assert seqs.excluded_cameras(seqs.lookup("S1", "Directions"), rules) == ()


def test_camera_only_rule_drops_one_view():
    rules = seqs.resolve_rules(["s11_directions_cam54138969"])
    assert seqs.excluded_cameras(seqs.lookup("S11", "Directions"), rules) == ("54138969",)
    assert seqs.excluded_cameras(seqs.lookup("S11", "Directions 1"), rules) == ()
    both = seqs.resolve_rules(["s11_directions_cam54138969", "s11_directions"])
    assert seqs.excluded_cameras(seqs.lookup("S11", "Directions"), both) == CAMERAS


def test_no_rules_drop_nothing():
    assert all(seqs.excluded_cameras(s, []) == () for s in seqs.load_table())


def test_s9_damaged_rules_match_the_right_files():
    expected = {"s9_greeting": "Greeting", "s9_sittingdown_1": "SittingDown 1",
                "s9_waiting_1": "Waiting 1", "s9_walking": "Walking"}
    for name, base in expected.items():
        rules = seqs.resolve_rules([name])
        hit = [s.file_base for s in rows("S9") if seqs.excluded_cameras(s, rules)]
        assert hit == [base]


@pytest.mark.parametrize("name", sorted(seqs.EXCLUSION_RULES))
def test_every_rule_matches_exactly_one_sequence(name):
    rules = seqs.resolve_rules([name])
    hits = [s for s in seqs.load_table() if seqs.excluded_cameras(s, rules)]
    assert len(hits) == 1


def test_unknown_rule_name_raises():
    with pytest.raises(ValueError, match="s11_direction"):
        seqs.resolve_rules(["s11_direction"])
    with pytest.raises(ValueError):
        seqs.resolve_rules(["s11_directions", "S11_Directions"])
    assert seqs.resolve_rules([]) == []


# ---------------------------------------------------------------- archive layout (layout.py)
def test_pose_paths_of_each_feature(tmp_path):
    root = tmp_path / "raw"
    assert layout.pose_path(root, "S1", "D3_Positions", "Directions 1") == \
        root / "S1" / "MyPoseFeatures" / "D3_Positions" / "Directions 1.cdf"
    for feature in ("D3_Positions_mono", "D2_Positions", "D3_Positions_mono_universal"):
        p = layout.pose_path(root, "S9", feature, "SittingDown 1", "58860488")
        assert p == root / "S9" / "MyPoseFeatures" / feature / "SittingDown 1.58860488.cdf"
        assert p.name == "SittingDown 1.58860488.cdf"  # the space is part of the name
    assert set(layout.POSE_FEATURES) == {"D3_Positions", "D3_Positions_mono", "D2_Positions",
                                         "D3_Positions_mono_universal"}
    assert layout.FEATURE_DIMS == {"D3_Positions": 3, "D3_Positions_mono": 3, "D2_Positions": 2,
                                   "D3_Positions_mono_universal": 3}


def test_paths_use_the_official_file_base_not_the_key(tmp_path):
    s = seqs.lookup("S1", "TakingPhoto 1")
    assert layout.pose_path(tmp_path, "S1", "D3_Positions", s).name == "TakingPhoto 1.cdf"
    assert layout.pose_path(tmp_path, "S1", "D2_Positions", s, "54138969").name == "TakingPhoto 1.54138969.cdf"
    assert layout.video_path(tmp_path, "S1", s, "60457274") == tmp_path / "S1" / "Videos" / "TakingPhoto 1.60457274.mp4"
    assert layout.bbox_path(tmp_path, "S1", s, "55011271") == \
        tmp_path / "S1" / "MySegmentsMat" / "ground_truth_bb" / "TakingPhoto 1.55011271.mat"
    assert layout.video_path(str(tmp_path), "S5", "Photo 2", "55011271").name == "Photo 2.55011271.mp4"


def test_camera_required_or_forbidden(tmp_path):
    with pytest.raises(ValueError, match="camera"):
        layout.pose_path(tmp_path, "S1", "D3_Positions", "Directions", "54138969")
    for feature in ("D3_Positions_mono", "D2_Positions", "D3_Positions_mono_universal"):
        with pytest.raises(ValueError, match="camera"):
            layout.pose_path(tmp_path, "S1", feature, "Directions")
    with pytest.raises(ValueError, match="D3_Angles"):
        layout.pose_path(tmp_path, "S1", "D3_Angles", "Directions")


def test_archive_names_and_checksums():
    assert layout.archive_name("Poses_D3_Positions", "S1") == "Poses_D3_Positions_S1.tgz"
    assert layout.archive_name("Videos", "S11") == "Videos_S11.tgz"
    assert set(layout.ARCHIVE_MD5) == set(LABELLED)
    md5 = {s: dict(zip(layout.ARCHIVE_CATEGORIES, v)) for s, v in layout.ARCHIVE_MD5.items()}
    assert md5["S1"]["Poses_D2_Positions"] == "69e038858ace96ba5f6c5ccea52e95e8"
    assert md5["S5"]["Poses_D3_Positions_mono"] == "4e14165ed00b7aff1111a81c1ca4b7b3"
    assert md5["S9"]["Poses_D3_Positions_mono_universal"] == "bbc436bc0f35bd09e272ad0ed1f188e2"
    assert md5["S8"]["Poses_D3_Positions"] == "5695796fe478579ffe9b9ff09203dd27"
    assert md5["S11"]["Videos"] == "25c25250be8f75d7991dcbf74bb9d339"  # the fixed (2020) archive
    assert all(len(h) == 32 for v in layout.ARCHIVE_MD5.values() for h in v)
