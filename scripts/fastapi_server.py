#!/usr/bin/python3
"""The idiomatic Python deployment of an exported lenet5 model, the peer of `lenet5 serve` in
scripts/bench_serve.sh: FastAPI + uvicorn, `torch.jit.load`, Pillow + NumPy for the pictures, one forward
pass per request.

    python3 scripts/fastapi_server.py --model model.pt [--host 127.0.0.1] [--port 8081] [--threads 1]

Same routes and answers as `lenet5 serve` (one digit per picture): POST /v1/predict (an image as the body or as the multipart field `image`, or
JSON {"pixels": 28x28 numbers in [0,1], ink high}), GET /v1/model, GET /healthz. The picture is prepared the
way MNIST was made, as `lenet5 predict` does: grayscale, inverted when the background is light, cropped to
the ink, scaled into a 20x20 box and centred by mass in 28x28.
"""
import argparse
import base64
import io
import json

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from PIL import Image, UnidentifiedImageError

MAX_BODY_BYTES = 8 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = 4096 * 4096  # refuse absurd pictures, as lenet5 does


def mnist_view(picture: Image.Image) -> np.ndarray:
    """28x28 float32 in [0,1], ink high on a zero background, digit centred by mass."""
    if picture.mode in ("RGBA", "LA", "P"):
        picture = picture.convert("RGBA")
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture)
    gray = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:
        gray = 1.0 - gray
    ink = gray > 0.2
    if not ink.any():
        return np.zeros((28, 28), dtype=np.float32)
    rows, cols = np.nonzero(ink)
    crop = gray[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    scale = 20.0 / max(crop.shape)
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize((width, height), Image.BILINEAR)
    small = np.asarray(small, dtype=np.float32) / 255.0
    field = np.zeros((28, 28), dtype=np.float32)
    mass = small.sum()
    ys, xs = np.indices(small.shape)
    top = int(round(14 - (ys * small).sum() / mass)) if mass > 0 else (28 - height) // 2
    left = int(round(14 - (xs * small).sum() / mass)) if mass > 0 else (28 - width) // 2
    top, left = min(max(top, 0), 28 - height), min(max(left, 0), 28 - width)
    field[top:top + height, left:left + width] = small
    return field


def png_base64(view: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray((view * 255).round().astype(np.uint8)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def view_from_json(body: bytes):
    try:
        pixels = np.asarray(json.loads(body)["pixels"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as error:
        raise HTTPException(400, f"JSON body needs \"pixels\": 28x28 numbers ({error})")
    if pixels.shape != (28, 28) or not np.isfinite(pixels).all():
        raise HTTPException(400, "\"pixels\" must be 28 rows of 28 finite numbers")
    return np.clip(pixels, 0.0, 1.0), (28, 28)


def view_from_image(data: bytes):
    try:
        with Image.open(io.BytesIO(data)) as picture:
            picture.load()
            return mnist_view(picture), picture.size
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise HTTPException(400, f"not a readable image: {error}")


def create_app(model_path: str, offload: bool = False) -> FastAPI:
    extra = {"metadata.json": ""}
    model = torch.jit.load(model_path, map_location="cpu", _extra_files=extra)
    model.eval()
    metadata = json.loads(extra["metadata.json"] or "{}")
    class_names = metadata.get("class_names", [str(digit) for digit in range(10)])
    app = FastAPI(title="lenet5 (FastAPI peer)")

    @app.exception_handler(HTTPException)
    async def json_error(_request, error: HTTPException):
        return JSONResponse({"error": error.detail}, status_code=error.status_code)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/v1/model")
    def model_info():
        return metadata

    @app.post("/v1/predict")
    async def predict(request: Request):
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(413, "body too large")
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            if "image" not in form:
                raise HTTPException(400, "multipart body needs the field 'image'")
            body, content_type = await form["image"].read(), "image"
        if offload:
            return await run_in_threadpool(answer, body, content_type)
        return answer(body, content_type)

    def answer(body: bytes, content_type: str) -> dict:
        reader = view_from_json if content_type.startswith("application/json") else view_from_image
        view, (width, height) = reader(body)
        with torch.no_grad():
            probabilities = torch.softmax(model(torch.from_numpy(view).view(1, 1, 28, 28)), dim=1)[0]
        top = torch.topk(probabilities, min(3, len(class_names)))
        label = int(top.indices[0])
        return {"digits": [{
            "label": label,
            "name": class_names[label],
            "probability": float(top.values[0]),
            "probabilities": probabilities.tolist(),
            "top_k": [{"label": int(i), "name": class_names[int(i)], "probability": float(p)}
                      for p, i in zip(top.values, top.indices)],
            "box": {"x": 0, "y": 0, "width": width, "height": height},
            "view_png": png_base64(view),
        }]}

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--offload", action="store_true",
                        help="decode and run the model in the thread pool instead of on the event loop")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    uvicorn.run(create_app(arguments.model, arguments.offload), host=arguments.host, port=arguments.port, log_level="warning")


if __name__ == "__main__":
    main()
