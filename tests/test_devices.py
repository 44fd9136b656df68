"""How a run card names the processor."""

from __future__ import annotations

from pathlib import Path

from fer_course.devices import cpu_model

EPYC = "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\n"
XEON = ("processor\t: 0\ncpu family\t: 6\nmodel\t\t: 143\n"
        "model name\t: Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz\n")


def test_a_name_without_a_model_number_gets_the_family_and_model(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(EPYC + "\n" + EPYC.replace("processor\t: 0", "processor\t: 1"))
    assert cpu_model(info) == "AMD EPYC (family 25, model 17)"


def test_a_full_model_name_is_kept_as_the_os_gives_it(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(XEON)
    assert cpu_model(info) == "Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz"
