"""How the comparisons (compare_pytorch.py, compare_onnx.py, compare_serve.py) summarise rounds that alternate
with their peer on a shared, noisy machine: the median of the per-round figures, with their range."""
import statistics


def spread(values):
    """The median of per-round values and their range."""
    values = list(values)
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def shown(ratio, range_label=""):
    """A spread of ratios as text, e.g. '2.35x (2.25-2.38)'."""
    return f"{ratio['median']:.2f}x ({range_label}{ratio['min']:.2f}-{ratio['max']:.2f})"
