"""The replaced system, rebuilt from its description for the side-by-side cold start: a FastAPI app answering
``POST /stream`` with a scikit-learn model unpickled at import (with the pandas frame and matplotlib figure
the old notebook pickled with it). Only in its own virtual environment (scripts/bench/replaced_system.txt).

    python replaced_system.py fit MODEL.pkl     # once: fit on the data set and pickle
    python -c "import replaced_system"          # with REPLACED_MODEL=MODEL.pkl: the app, ready to serve"""

import os
import pickle
import sys
from pathlib import Path

from fastapi import FastAPI
from pydantic import BaseModel


class StreamRequest(BaseModel):
    input: float


def fit(path: Path) -> None:
    import gzip

    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression

    data = Path(__file__).resolve().parents[2] / "model" / "data"
    with gzip.open(data / "diabetes_data_raw.csv.gz") as raw, gzip.open(data / "diabetes_target.csv.gz") as y:
        bmi, target = np.loadtxt(raw)[:, 2], np.loadtxt(y)
    scaled = (bmi - bmi.mean()) / np.sqrt(((bmi - bmi.mean()) ** 2).sum())
    frame = pd.DataFrame({"bmi": scaled, "target": target})
    model = LinearRegression().fit(frame[["bmi"]].to_numpy()[:-20], target[:-20])
    figure, axes = plt.subplots()
    axes.scatter(scaled, target)
    path.write_bytes(pickle.dumps({"model": model, "data": frame, "figure": figure}))


if __name__ == "__main__":
    fit(Path(sys.argv[2]))
else:
    saved = pickle.loads(Path(os.environ["REPLACED_MODEL"]).read_bytes())  # noqa: S301 - our own file
    app = FastAPI()

    @app.post("/stream")  # type: ignore[untyped-decorator]  # fastapi is not installed where mypy runs
    def stream(body: StreamRequest) -> dict[str, list[float]]:
        return {"Response Predict": saved["model"].predict([[body.input]]).tolist()}
