"""The request form: prompt, negative prompt, seed, steps, guidance and its mode, temperature,
variations, loudness.

Each widget's range and default come from the request schema (mfmjt_schema), so the form offers
exactly what the daemon accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRegularExpression
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

import mfmjt_schema as schema

MAX_SEED = schema.MAX_SEED  # a line edit: QSpinBox holds only a C int
LOUDNESS_OFF = schema.field("loudness").low  # the spin box's floor reads "as generated"


@dataclass(frozen=True)
class Request:
    """What the form asks for, as `Client.submit` keywords (None: the daemon's default)."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 1
    guidance: float | None = None
    rescale: str | None = None
    temperature: float | None = None
    variations: int = 1
    channels: int = 2
    sample_rate: int = 48_000
    loudness: float | None = None

    def submit_kwargs(self) -> dict:
        return {"prompt": self.prompt, "negative_prompt": self.negative_prompt, "seed": self.seed,
                "steps": self.steps, "guidance": self.guidance, "rescale": self.rescale,
                "temperature": self.temperature, "variations": self.variations,
                "channels": self.channels, "sample_rate": self.sample_rate, "loudness": self.loudness}


def _spin(name: str, **extra) -> QSpinBox:
    spec = schema.field(name)
    box = QSpinBox(minimum=int(spec.low), maximum=int(spec.high), **extra)
    box.setToolTip(spec.help)
    return box


def _double(name: str, **extra) -> QDoubleSpinBox:
    spec = schema.field(name)
    box = QDoubleSpinBox(minimum=spec.low, maximum=spec.high, **extra)
    box.setToolTip(spec.help)
    return box


class RequestForm(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QLineEdit(placeholderText="what it should sound like, e.g. footsteps on gravel",
                                maxLength=schema.MAX_TEXT)
        self.negative = QLineEdit(placeholderText="what it should not sound like, e.g. music, speech",
                                  maxLength=schema.MAX_TEXT)
        self.seed = QLineEdit(placeholderText="random")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"[0-9]{0,19}"), self.seed))
        self.steps = _spin("steps", value=1)
        self.guidance = _double("guidance", singleStep=0.5, value=0.0, decimals=1)
        self.guidance.setSpecialValueText("model default")
        self.rescale = QComboBox()
        self.rescale.addItem("model default", None)
        for mode in schema.RESCALE_MODES:
            self.rescale.addItem(mode.replace("_", " "), mode)
        self.rescale.setToolTip(schema.field("rescale").help)
        self.temperature = _double("temperature", singleStep=0.05, value=0.0, decimals=2)
        self.temperature.setSpecialValueText("model default")
        self.variations = _spin("variations", value=2)
        self.loudness = _double("loudness", singleStep=1.0, value=LOUDNESS_OFF, decimals=1, suffix=" LUFS")
        self.loudness.setSpecialValueText("as generated")
        layout = QFormLayout(self)
        layout.addRow("Prompt", self.prompt)
        layout.addRow("Negative", self.negative)
        layout.addRow("Seed", self.seed)
        layout.addRow("Steps", self.steps)
        layout.addRow("Guidance", self.guidance)
        layout.addRow("Guidance mode", self.rescale)
        layout.addRow("Temperature", self.temperature)
        layout.addRow("Variations", self.variations)
        layout.addRow("Loudness", self.loudness)

    def request(self) -> Request:
        return Request(
            prompt=self.prompt.text().strip(),
            negative_prompt=self.negative.text().strip(),
            seed=min(int(self.seed.text()), MAX_SEED) if self.seed.text() else None,
            steps=self.steps.value(),
            guidance=None if self.guidance.value() == 0.0 else self.guidance.value(),
            rescale=self.rescale.currentData(),
            temperature=None if self.temperature.value() == 0.0 else self.temperature.value(),
            variations=self.variations.value(),
            loudness=None if self.loudness.value() <= LOUDNESS_OFF else self.loudness.value(),
        )

    def use_seed(self, seed: int) -> None:
        """Fix the seed (e.g. to regenerate a variation with another prompt)."""
        self.seed.setText(str(min(int(seed), MAX_SEED)))
