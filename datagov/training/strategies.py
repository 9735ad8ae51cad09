"""Transfer strategies, registered once: the spec, the CLI and the trainer
all read names and help from here (no torch import)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    name: str
    help: str
    pretrained: bool  # starts from the pretrained encoder (else from random weights)
    trains_encoder: bool  # the encoder gets gradients
    offered: bool = True  # a user may choose it (scratch is the --baseline only)


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("finetune", "train encoder and head end to end (the encoder at encoder_lr)", True, True),
        Strategy("features", "frozen encoder, features extracted once, a linear head", True, False),
        Strategy("scratch", "the same network from random weights (the --baseline)", False, True, offered=False),
    )
}
OFFERED = tuple(name for name, s in STRATEGIES.items() if s.offered)


def help_text() -> str:
    return "; ".join(f"{name}: {STRATEGIES[name].help}" for name in OFFERED)
