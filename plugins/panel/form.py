"""The request form: prompt, negative prompt, seed, steps, guidance, variations."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

MAX_SEED = 2**63 - 1  # the protocol's limit (a line edit: QSpinBox holds only a C int)


@dataclass(frozen=True)
class Request:
    """What the form asks for, as `Client.submit` keywords (None: the daemon's default)."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 1
    guidance: float | None = None
    variations: int = 1
    channels: int = 2
    sample_rate: int = 48_000

    def submit_kwargs(self) -> dict:
        return {"prompt": self.prompt, "negative_prompt": self.negative_prompt, "seed": self.seed,
                "steps": self.steps, "guidance": self.guidance, "variations": self.variations,
                "channels": self.channels, "sample_rate": self.sample_rate}


class RequestForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QLineEdit(placeholderText="what it should sound like, e.g. footsteps on gravel")
        self.negative = QLineEdit(placeholderText="what it should not sound like, e.g. music, speech")
        self.seed = QLineEdit(placeholderText="random")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9]{0,19}"), self.seed))
        self.steps = QSpinBox(minimum=1, maximum=100, value=1)
        self.guidance = QDoubleSpinBox(minimum=0.0, maximum=20.0, singleStep=0.5, value=0.0, decimals=1)
        self.guidance.setSpecialValueText("model default")
        self.variations = QSpinBox(minimum=1, maximum=8, value=2)
        layout = QFormLayout(self)
        layout.addRow("Prompt", self.prompt)
        layout.addRow("Negative", self.negative)
        layout.addRow("Seed", self.seed)
        layout.addRow("Steps", self.steps)
        layout.addRow("Guidance", self.guidance)
        layout.addRow("Variations", self.variations)

    def request(self) -> Request:
        return Request(prompt=self.prompt.text().strip(), negative_prompt=self.negative.text().strip(),
                       seed=min(int(self.seed.text()), MAX_SEED) if self.seed.text() else None, steps=self.steps.value(),
                       guidance=None if self.guidance.value() == 0.0 else self.guidance.value(),
                       variations=self.variations.value())

    def use_seed(self, seed: int) -> None:
        """Fix the seed (e.g. to regenerate a variation with another prompt)."""
        self.seed.setText(str(min(int(seed), MAX_SEED)))
