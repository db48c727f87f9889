"""What the paper states, in one place: its final-cycle results (Sec. IV text) and where its curves
end. Read by the reports (comparison marks, the claims table) and by FIDELITY's test; never a
measurement of ours."""
from __future__ import annotations

# Final-cycle values stated in the paper's text (Sec. IV), for comparison marks; not measurements of ours.
PAPER_FINAL = {
    "cifar10": {"accuracy": {"random": 87.72, "vaal": 87.11, "coreset": 89.47, "ll4al": 90.45, "entropy": 90.64,
                             "l2r": 90.95},
                "spearman": {"ll4al": 0.971, "l2r-all-features": 0.975, "l2r": 0.977}},
    "celeba": {"accuracy": {"vaal": 89.29, "random": 90.67, "coreset": 91.02, "ll4al": 91.11, "l2r": 91.76,
                            "entropy": 92.25}},
    "mpii": {"pckh": {"entropy": 67.08, "random": 67.41, "ll4al": 68.27, "coreset": 68.53, "l2r": 69.37}},
    "shanghaitech": {"mae": {"l2r": 10.43, "ll4al": 10.73, "coreset": 10.98, "random": 11.28, "entropy": 15.04}},
}
# Labeled-set size of the paper's final cycle: marks are drawn only on a curve that ends there.
PAPER_FINAL_LABELED = {"cifar10": 10000, "celeba": 1000, "mpii": 1000, "shanghaitech": 100}
