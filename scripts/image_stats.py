"""Helpers the diagnosis scripts share (amplitude-bands.py, detail-bands.py): an FFT Gaussian
blur and Pearson's correlation. Imported from the scripts' own folder."""
import numpy as np


def blur(image, sigma_px):
    """`image` convolved (periodically) with a Gaussian of σ = `sigma_px`; 0 leaves it as is."""
    if sigma_px == 0:
        return image
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    gauss = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (fx ** 2 + fy ** 2))
    return np.real(np.fft.ifft2(np.fft.fft2(image) * gauss))


def pearson(a, b):
    """Pearson's correlation of two equally shaped arrays."""
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
