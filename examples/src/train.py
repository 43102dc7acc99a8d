"""A training script as Azure ML v1 jobs wrote them: arguments, Run.get_context(), ./outputs."""
import argparse
import os

from azuremlcore import Run

parser = argparse.ArgumentParser()
parser.add_argument("--alphas", type=float, nargs="+", default=[0.1, 0.5, 1.0])
args = parser.parse_args()

run = Run.get_context()
for alpha in args.alphas:
    mse = 3000 + 900 * (alpha - 0.3) ** 2  # stands in for fitting a model with this regularisation
    run.log("alpha", alpha)
    run.log("mse", mse)
    print(f"alpha={alpha:.2f} mse={mse:.1f}", flush=True)

os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write(f"best alpha {min(args.alphas, key=lambda a: (a - 0.3) ** 2)}\n")
