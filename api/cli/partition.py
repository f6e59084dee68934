"""`pianqu partition`: any polygon layer into balanced, contiguous districts, file to file."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from . import common
from .common import print_json, progress


def partition(units_file: Annotated[Path, typer.Argument(help="Any polygon layer, any CRS.")],
              out_file: Annotated[Path, typer.Option("--out", help="Output file (.gpkg holds both layers).")],
              weight: Annotated[Optional[list[str]], typer.Option(help="Workload column, or COLUMN=COEF; repeat for a weighted sum.")] = None,
              districts: Annotated[Optional[int], typer.Option("--districts", help="Number of districts.")] = None,
              target_size: Annotated[Optional[float], typer.Option(help="Workload per district (sets the number).")] = None,
              tolerance: Annotated[float, typer.Option(help="Allowed relative deviation from the target.")] = 0.02,
              barriers: Annotated[Optional[Path], typer.Option(help="Barrier lines/polygons; points are crossings.")] = None,
              parent: Annotated[Optional[str], typer.Option(help="Column of the parent area to nest in.")] = None,
              previous: Annotated[Optional[str], typer.Option(help="Column with the previous plan's districts.")] = None,
              locked: Annotated[Optional[str], typer.Option(help="Column with the codes of districts to keep exactly.")] = None,
              seeds: Annotated[Optional[str], typer.Option(help="Column naming a seed (a manager's base) on one unit each.")] = None,
              limit: Annotated[Optional[list[str]], typer.Option(help="Hold a further column within limits: COLUMN=SHARE or COLUMN=MIN:MAX; repeatable.")] = None,
              max_radius: Annotated[Optional[float], typer.Option(help="Metres: no unit farther from its district's centre.")] = None,
              parent_count: Annotated[Optional[list[str]], typer.Option(help="PARENT=N: districts in that parent (set, not derived); repeatable.")] = None,
              repair_coverage: Annotated[bool, typer.Option("--repair-coverage", help="Give each overlap between units to one of them and each narrow gap to a neighbour, instead of refusing the layer.")] = False,
              gap_width: Annotated[Optional[float], typer.Option(help="Metres: enclosed gaps narrower than this are flaws; wider holes (a lake) are kept. Default 5.")] = None,
              seed: int = 0,
              layer: Annotated[Optional[str], typer.Option("--layer", help="Layer inside a multi-layer input.")] = None) -> None:
    """Partition any polygon layer into balanced, contiguous districts (file to file)."""
    from gis.coverage import CoverageError
    from gis.errors import InputError
    from gis.io import read_file, write_file
    from planning.partition import partition_units
    lims, counts, wts = common.limits(limit), common.counts(parent_count), common.weights(weight)
    with progress() as p:
        p.add_task(f"partitioning {units_file.name}", total=None)
        units = read_file(units_file, layer=layer)
        bars = read_file(barriers) if barriers else None
        try:
            out_units, out_districts, report = partition_units(
                units, n_districts=districts, target_size=target_size, tolerance=tolerance, weight=wts,
                barriers=bars, parent=parent, previous=previous, locked=locked, seeds=seeds, limits=lims,
                max_radius=max_radius, parent_counts=counts, random_state=seed, source=units_file.name,
                repair_coverage=repair_coverage, gap_width_m=gap_width)
        except CoverageError as e:  # the core names the flaws; the door names its flag
            err = InputError(f"{e.problem}; --repair-coverage gives each overlap to one unit and each gap "
                             "to a neighbour", source=e.source)
            err.problems = [str(err), *e.problems[1:]]  # every flaw, listed below the message
            raise err from None
        if out_file.exists():
            out_file.unlink()
        write_file(out_units, out_file, layer="units")
        if out_file.suffix.lower() == ".gpkg":
            write_file(out_districts, out_file, layer="districts", append=True)
            report["outputs"] = {"units": f"{out_file}:units", "districts": f"{out_file}:districts"}
        else:
            sibling = out_file.with_name(f"{out_file.stem}_districts{out_file.suffix}")
            write_file(out_districts, sibling)
            report["outputs"] = {"units": str(out_file), "districts": str(sibling)}
    print_json(report)
