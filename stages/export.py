"""DVC stage ``export@<format>``: one seed's own input files, in the seed's own layout.

Reads ``export.<format>`` (``jpeg_qscale`` of the image formats, mmpose's ``sample_rate``;
``export.formats`` is only the list dvc.yaml's ``foreach`` runs over) and what ``convert``,
``frames`` and ``priors`` wrote. The train/test split is each seed's own (all five hard-code
S1, S5, S6, S7, S8 / S9, S11), so ``dataset``'s split does not reach the files. Writes ``data/exports/<format>/`` (whole or not
at all) with a ``README.md`` saying where it goes and which command of the seed then runs,
and logs the export's time and size.
"""
from __future__ import annotations

import time
from pathlib import Path

from pose3d.export.common import ExportError, ExportSettings, Inputs, folder_size
from pose3d.export.formats import FORMATS
from pose3d.io.atomic import replacing_dir
from pose3d.params import as_dict
from stages.common import fail, provenance, section, start, write_json

OUT = Path("data/exports")


def main(argv: list[str] | None = None) -> None:
    args, log, params = start(
        __doc__, argv, "export@{format}",
        format={"required": True, "help": f"one of {', '.join(FORMATS)}"},
        out={"type": Path, "default": OUT, "help": "parent folder of the per-format outputs"},
    )
    if args.format not in FORMATS:
        fail(log, f"unknown export format {args.format!r}; choose one of {', '.join(FORMATS)}")
    cfg = as_dict(getattr(section(params, "export", log), args.format))
    if not 1 <= cfg.get("jpeg_qscale", 3) <= 31:
        fail(log, f"params.yaml export.{args.format}.jpeg_qscale: {cfg['jpeg_qscale']} is not within 1..31")
    if cfg.get("sample_rate", 1) < 1:
        fail(log, f"params.yaml export.{args.format}.sample_rate: {cfg['sample_rate']} must be >= 1")
    # the split is not a parameter: each seed's loader hard-codes the standard one (ExportSettings' default)
    settings = ExportSettings(jpeg_qscale=cfg.get("jpeg_qscale", 3), mmpose_sample_rate=cfg.get("sample_rate", 5))

    t0 = time.time()
    target = args.out / args.format
    try:
        with replacing_dir(target) as tmp:
            summary = FORMATS[args.format].export(Inputs(), tmp, settings)
    except ExportError as exc:
        fail(log, f"export@{args.format} failed: {exc}")
    seconds = time.time() - t0
    files, size = folder_size(target)
    images = summary.get("images", 0)
    log.info("%s: %d files, %.1f MB in %.1f s%s", target, files, size / 1e6, seconds,
             f" ({images} images, {summary.get('image_bytes', 0) / 1e6:.1f} MB, made from the frames' crops "
             f"in {summary.get('image_seconds', 0.0):.1f} s of work)" if images else "")
    write_json(args.out / f"{args.format}.provenance.json",
               provenance(seconds=seconds, files=files, bytes=size, summary=summary))


if __name__ == "__main__":
    main()
