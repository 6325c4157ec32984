"""Smooth signals over frames: easing ramps, band-limited wobble and angle wrapping.

The synthetic motion is made of these so that nothing in it jumps or jitters; the
frame rate lives here because the wobble's frequencies are in Hz.
"""
from __future__ import annotations

import numpy as np

FPS = 50.0
DT = 1.0 / FPS


def smoothstep(u: np.ndarray) -> np.ndarray:
    """0 to 1 as ``u`` goes from 0 to 1, flat at both ends so blends start and stop gently."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def ramp(n: int) -> np.ndarray:
    """Weights rising smoothly from 0 to 1 over ``n`` frames."""
    return smoothstep((np.arange(n) + 0.5) / n)


def noise_params(rng: np.random.Generator, lo_hz: float, hi_hz: float, channels: int = 1,
                 terms: int = 3) -> np.ndarray:
    """Frequencies, phases and amplitudes (3, channels, terms) of a random smooth wobble."""
    return np.stack([rng.uniform(lo_hz, hi_hz, (channels, terms)),
                     rng.uniform(0, 2 * np.pi, (channels, terms)),
                     rng.uniform(0.5, 1.0, (channels, terms))])


def eval_noise(params: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The wobble of :func:`noise_params` at ``frames``, in about [-1, 1], shape (k, channels)."""
    f, ph, amp = params
    t = np.asarray(frames, dtype=np.float64)[:, None, None] / FPS
    return (amp * np.sin(2 * np.pi * f * t + ph)).sum(-1) / amp.sum(-1)


def smooth_noise(rng: np.random.Generator, n: int, lo_hz: float, hi_hz: float,
                 channels: int = 1, terms: int = 3) -> np.ndarray:
    """Band-limited wobble in about [-1, 1], shape (n, channels): a sum of random sines."""
    return eval_noise(noise_params(rng, lo_hz, hi_hz, channels, terms), np.arange(n))


def wrap_angle(a):
    """Angles wrapped into [-pi, pi): the shorter way round between two headings."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi
