"""Real little video files written with PyAV (helpers of tests/video; imported by name).

Every frame carries its own index as 7 black/white blocks (bit b of the index
in block b, 12x12 pixels in the top rows) above a moving square, so a test can
tell exactly which frame the decoder returned despite lossy codecs.
"""
from fractions import Fraction

import numpy as np

WIDTH, HEIGHT = 96, 64
BLOCK, BITS = 12, 7

# name -> (codec, frames per second, number of frames)
VIDEOS = {
    'square_mpeg4.avi': ('mpeg4', Fraction(25), 75),           # 3.0 s
    'square_h264.mp4': ('libx264', Fraction(30), 60),          # 2.0 s
    'square_ntsc.mp4': ('mpeg4', Fraction(30000, 1001), 50),   # 1.668 s at 29.97 fps
    'square_24.mkv': ('mpeg4', Fraction(24), 48),               # 2.0 s, times rounded to 1 ms
    'square_ts.ts': ('libx264', Fraction(25), 40),              # 1.6 s MPEG-TS: seeks by bytes, mid-GOP
}
CORRUPT = 'truncated.mp4'


def draw_frame(index: int, num_frames: int) -> np.ndarray:
    img = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
    for bit in range(BITS):
        value = 255 if (index >> bit) & 1 else 0
        img[:BLOCK, bit * BLOCK:(bit + 1) * BLOCK] = value
    x = int((WIDTH - 16) * index / max(num_frames - 1, 1))
    img[30:46, x:x + 16] = (250, 200, 30)
    return img


def read_index(frame: np.ndarray) -> int:
    """The frame index drawn by :func:`draw_frame`."""
    gray = frame[2:BLOCK - 2].astype(np.float32).mean(axis=(0, 2))
    bits = [gray[b * BLOCK + 2:(b + 1) * BLOCK - 2].mean() > 128 for b in range(BITS)]
    return int(sum(1 << b for b, on in enumerate(bits) if on))


def write_video(path: str, codec: str, rate: Fraction, num_frames: int) -> str:
    import av
    with av.open(path, 'w') as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, 'yuv420p'
        if codec == 'mpeg4':
            stream.bit_rate = 2_000_000  # crisp index blocks
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(draw_frame(i, num_frames), format='rgb24')
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
