"""`datagov models import`: weights from elsewhere, their training data
declared, not verified. Read without running code, checked against the
architecture, registered with the declaration; a transfer from them needs an
acknowledgement that is recorded on the model it trains and shown by review
and card. Hostile files are refused with one Error line."""

import json

import torch
from safetensors.torch import save_file

from datagov import tags
from datagov.pixels.shape import ImageShape
from datagov.training.backbones import backbone_encoder
from tests.training.conftest import TRANSFER, mlflow_runs

DECLARE = ["--arch", "resnet18", "--shape", "1,8,8", "--trained-on", "EMNIST digits, 240k images",
           "--license", "CC-BY-4.0", "--source", "https://example.org/emnist-resnet18"]  # fmt: skip
QUICK = ["train.epochs=2", "train.patience=2", "train.device=cpu", "encoder=models:/emnist-resnet/1",
         "register.model_name=emnist-classifier", "register.promote_min.eval_accuracy=0"]  # fmt: skip


def _weights(tmp_path, suffix=".safetensors"):
    torch.manual_seed(3)
    state = {k: v.contiguous() for k, v in backbone_encoder("resnet18", ImageShape(1, 8, 8), 16).state_dict().items()}
    path = tmp_path / f"resnet{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"state_dict": state}, path)
    return path, state


def test_imported_weights_need_an_acknowledgement_that_is_recorded(pretrained, ws, tmp_path):
    path, state = _weights(tmp_path)
    result = pretrained("models", "import", str(path), "--name", "emnist-resnet", *DECLARE)
    assert result.exit_code == 0, result.output
    assert "Declared, not verified" in result.stdout
    from datagov.training.weights import load_model

    loaded = load_model(ws, "emnist-resnet", "1")
    assert torch.equal(loaded.encoder.conv1.weight, state["conv1.weight"])  # the imported tensors, exactly
    imports = [r for r in mlflow_runs(ws) if r.data.tags.get(tags.STAGE) == "import"]
    assert imports and imports[0].data.tags[tags.PROVENANCE] == "declared"

    refused = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--no-progress")
    assert refused.exit_code == 4 and "declared ('EMNIST digits, 240k images'" in refused.stderr
    assert "--accept-declared" in refused.stderr
    waived = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--waive", "x", "--no-progress")
    assert waived.exit_code == 4  # --waive does not stand for the acknowledgement

    ok = pretrained("transfer", TRANSFER, *QUICK, "--strategy", "features", "--no-progress",
                    "--accept-declared", "pilot; EMNIST terms checked by legal")  # fmt: skip
    assert ok.exit_code == 0, ok.output
    review = pretrained("models", "review", "emnist-classifier", "--json")
    doc = json.loads(review.stdout)
    assert doc["tags"][tags.DECLARED_ENCODER] == "models:/emnist-resnet/1"
    assert doc["tags"][tags.DECLARED_ACCEPTED] == "pilot; EMNIST terms checked by legal"
    assert doc["encoder"]["declared"]["trained_on"] == "EMNIST digits, 240k images"
    assert any(w["reason"].startswith("declared provenance accepted: pilot") for w in doc["waivers"])
    text = pretrained("models", "review", "emnist-classifier").stdout
    assert "Declared provenance of models:/emnist-resnet/1" in text and "Accepted at transfer" in text
    card = pretrained("models", "card", "emnist-classifier").stdout
    assert "| declared, not verified | EMNIST digits, 240k images | `models:/emnist-resnet/1` |" in card


def test_a_state_dict_in_a_pt_file_is_read_safely_and_hostile_files_are_refused(pretrained, ws, tmp_path):
    path, _ = _weights(tmp_path, ".pt")
    assert pretrained("models", "import", str(path), "--name", "from-pt", *DECLARE).exit_code == 0
    pickled = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a whole module: unpickling it would run code
    for bad, message in [
        (pickled, "is not a readable state dict"),
        (tmp_path / "weights.pkl", "must be .safetensors, .pt, .pth"),
    ]:
        result = pretrained("models", "import", str(bad), "--name", "bad", *DECLARE)
        assert result.exit_code == 1 and result.stderr.startswith(f"Error: {bad.name}"), result.output
        assert message in result.stderr and "Traceback" not in result.output
    wrong_shape = pretrained("models", "import", str(path), "--name", "bad", *DECLARE[:2], "--shape", "3,8,8",
                             *DECLARE[4:])  # fmt: skip
    assert wrong_shape.exit_code == 1 and "do not fit a resnet18 for 3x8x8 images" in wrong_shape.stderr
    bad_license = pretrained("models", "import", str(path), "--name", "bad", *DECLARE[:6], "--license", "my terms")
    assert bad_license.exit_code == 1 and "not an SPDX expression" in bad_license.stderr
    from mlflow import MlflowClient

    from datagov import tracking

    tracking.configure(ws)
    assert not MlflowClient().search_registered_models(filter_string="name = 'bad'")  # nothing half-registered
