"""Models the edge runs: the ONNX vehicle and plate detector and plate reading.

The run-time part needs only numpy, OpenCV and onnxruntime (plus
rapidocr-onnxruntime for plate OCR). Training code lives in ``models.training``
and is never imported from here.
"""

from pathlib import Path

#: The full-frame detector shipped in the repository (vehicles, 192x320 input).
SHIPPED_DETECTOR = Path(__file__).resolve().parent / "vehicles_192x320.onnx"
#: Second stage: plates inside vehicle crops (128 px input).
SHIPPED_PLATE_DETECTOR = Path(__file__).resolve().parent / "plates_128.onnx"
#: The project's own plate-line recogniser (CTC over digits and series letters).
SHIPPED_PLATE_OCR = Path(__file__).resolve().parent / "plate_ocr.onnx"
