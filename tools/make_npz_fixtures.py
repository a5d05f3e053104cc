#!/usr/bin/python3
"""Writes the small .npz fixtures in tests/fixtures/npz with numpy itself,
so the C reader is tested against files numpy wrote (run with Debian's
python3-numpy; the outputs are committed, tests need no Python)."""
import os
import numpy as np

out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "npz")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
T = 5
frames = rng.integers(0, 256, size=(T + 1, 64, 64, 3), dtype=np.uint8)
frames[T] = frames[0]
acts = np.array([7, 8, 4, 1, 14])

# gen_dgrl style: channels first, (T,1) actions and rewards, 'T' timestamps, savez_compressed
np.savez_compressed(os.path.join(out, "20240101T120000_0_5_42_10.00.npz"),
                    observations=frames.transpose(0, 3, 1, 2).copy(),
                    actions=acts.reshape(T, 1).astype(np.int64),
                    rewards=np.array([0, 0, 0, 0, 10], dtype=np.float32).reshape(T, 1),
                    dones=np.array([False, False, False, False, True]))
# coinbc/refdata style but with other dtypes, stored (savez): int32 actions, float64 rewards, uint8 dones
np.savez(os.path.join(out, "20240101-120001_1_5_42_0.00.npz"),
         observations=frames, actions=acts.astype(np.int32), rewards=np.zeros(T, dtype=np.float64),
         dones=np.zeros(T, dtype=np.uint8))
# float actions, int8 dones
np.savez(os.path.join(out, "20240101-120002_2_5_43_0.00.npz"),
         observations=frames, actions=acts.astype(np.float32), rewards=np.zeros(T, dtype=np.float32),
         dones=np.zeros(T, dtype=np.int8))
# bad: unsupported dtype (complex rewards)
np.savez(os.path.join(out, "bad_dtype_0_5_44_0.00.npz"),
         observations=frames, actions=acts, rewards=np.zeros(T, dtype=np.complex64), dones=np.zeros(T, dtype=bool))
# bad: missing key
np.savez(os.path.join(out, "bad_missing_0_5_45_0.00.npz"), observations=frames, actions=acts, rewards=np.zeros(T))
# bad: mismatched lengths
np.savez(os.path.join(out, "bad_lengths_0_5_46_0.00.npz"),
         observations=frames, actions=acts[:4], rewards=np.zeros(T), dones=np.zeros(T, dtype=bool))
# bad: action out of range
np.savez(os.path.join(out, "bad_action_0_5_47_0.00.npz"),
         observations=frames, actions=np.array([7, 8, 15, 1, 1]), rewards=np.zeros(T), dones=np.zeros(T, dtype=bool))
# bad: wrong frame size
np.savez(os.path.join(out, "bad_size_0_5_48_0.00.npz"),
         observations=np.zeros((T + 1, 32, 32, 3), dtype=np.uint8), actions=acts, rewards=np.zeros(T),
         dones=np.zeros(T, dtype=bool))
# the frames, raw, for the C test to compare with
frames[:T].tofile(os.path.join(out, "frames_42.raw"))
