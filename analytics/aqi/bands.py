"""The six VN_AQI bands: names, colours and health advice in Vietnamese and English.

The decision requires each published AQI to carry its colour and advice for the general public
and for sensitive groups (elderly, children, people with respiratory or heart disease). The
advice below follows the recommendations table of QĐ 1459/QĐ-TCMT; check the wording against the
signed text before it goes on a public screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["BANDS", "Advice", "Band", "band_for"]


@dataclass(frozen=True, slots=True)
class Advice:
    vi: str
    en: str


@dataclass(frozen=True, slots=True)
class Band:
    """One AQI band, ``low``..``high`` inclusive on the integer (rounded) AQI."""

    low: int
    high: int
    name_vi: str
    name_en: str
    colour: str
    rgb: tuple[int, int, int]
    general: Advice
    sensitive: Advice


_OUTDOORS = Advice("Tự do thực hiện các hoạt động ngoài trời.", "Enjoy outdoor activities freely.")
_INDOORS = Advice(
    "Mọi người nên ở trong nhà, đóng cửa ra vào và cửa sổ. Nếu cần thiết phải ra ngoài, "
    "hãy đeo khẩu trang đạt tiêu chuẩn.",
    "Everyone should stay indoors with doors and windows closed. If you must go out, wear a "
    "certified mask.",
)

BANDS: Final[tuple[Band, ...]] = (
    Band(0, 50, "Tốt", "Good", "green", (0, 228, 0), _OUTDOORS, _OUTDOORS),
    Band(
        51,
        100,
        "Trung bình",
        "Moderate",
        "yellow",
        (255, 255, 0),
        _OUTDOORS,
        Advice(
            "Nên theo dõi các triệu chứng như ho hoặc khó thở, nhưng vẫn có thể hoạt động "
            "ngoài trời.",
            "Watch for symptoms such as coughing or shortness of breath; outdoor activity is "
            "still possible.",
        ),
    ),
    Band(
        101,
        150,
        "Kém",
        "Poor",
        "orange",
        (255, 126, 0),
        Advice(
            "Những người có triệu chứng đau mắt, ho hoặc đau họng nên cân nhắc giảm các hoạt động "
            "ngoài trời.",
            "People with sore eyes, a cough or a sore throat should consider reducing outdoor "
            "activity.",
        ),
        Advice(
            "Nên giảm các hoạt động mạnh và giảm thời gian hoạt động ngoài trời. Người bị hen "
            "suyễn có thể cần dùng thuốc thường xuyên hơn.",
            "Reduce strenuous activity and time spent outdoors. People with asthma may need "
            "their medication more often.",
        ),
    ),
    Band(
        151,
        200,
        "Xấu",
        "Bad",
        "red",
        (255, 0, 0),
        Advice(
            "Mọi người nên giảm các hoạt động mạnh khi ở ngoài trời, tránh tập thể dục kéo dài và "
            "nghỉ ngơi nhiều hơn trong nhà.",
            "Everyone should reduce strenuous outdoor activity, avoid prolonged exercise and rest "
            "more indoors.",
        ),
        Advice(
            "Nên ở trong nhà và giảm hoạt động mạnh. Nếu cần thiết phải ra ngoài, hãy đeo khẩu "
            "trang đạt tiêu chuẩn.",
            "Stay indoors and reduce strenuous activity. If you must go out, wear a certified "
            "mask.",
        ),
    ),
    Band(
        201,
        300,
        "Rất xấu",
        "Very bad",
        "purple",
        (143, 63, 151),
        Advice(
            "Mọi người hạn chế tối đa các hoạt động ngoài trời và chuyển các hoạt động vào trong "
            "nhà. Nếu cần thiết phải ra ngoài, hãy đeo khẩu trang đạt tiêu chuẩn.",
            "Everyone should avoid outdoor activity as far as possible and move activities "
            "indoors. If you must go out, wear a certified mask.",
        ),
        Advice(
            "Nên ở trong nhà và giảm hoạt động mạnh.",
            "Stay indoors and reduce strenuous activity.",
        ),
    ),
    Band(301, 500, "Nguy hại", "Hazardous", "maroon", (126, 0, 35), _INDOORS, _INDOORS),
)


def band_for(aqi: int) -> Band:
    """The band of a rounded AQI; values above 500 cannot occur (they are capped)."""
    for band in BANDS:
        if aqi <= band.high:
            return band
    raise ValueError(f"AQI {aqi} is outside 0..500")
