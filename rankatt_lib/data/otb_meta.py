"""Facts about the OTB benchmark: sequence lists, frame ranges and attribute tags.

Object Tracking Benchmark, Y. Wu, J. Lim and M.-H. Yang: OTB-2013 ("Online Object Tracking: A
Benchmark", CVPR 2013, 51 targets in 50 folders) and OTB-2015 / TB-100 ("Object Tracking
Benchmark", TPAMI 2015, 100 targets in 98 folders). TB-50 is the harder half of TB-100 defined in
the TPAMI paper (it is *not* OTB-2013).

Sources (the facts are reproduced here, the code that carried them is not):

* Sequence lists, frame ranges and attribute tags: the benchmark authors' own toolkit,
  https://github.com/jwlim/tracker_benchmark, branch ``pami15``:
  ``matlab/util/MakeSequenceConfigVer10.m`` (the 51 OTB-2013 targets),
  ``matlab/util/MakeSequenceConfigVer11.m`` (the rest of TB-100) and ``matlab/ScanSequences.m``
  (the ``V11_100`` and ``V11_50`` name lists, with the names ``Jogging.1``, ``Skating2.2``,
  ``Human4.2``). Check: with these tags the number of sequences per attribute is exactly the one
  printed in the papers' attribute plots -- OTB-2013: IV 25, SV 28, OCC 29, DEF 19, MB 12, FM 17,
  IPR 31, OPR 39, OV 6, BC 21, LR 4; TB-100: IV 38, SV 64, OCC 49, DEF 44, MB 29, FM 39, IPR 51,
  OPR 63, OV 14, BC 31, LR 9 (``tests/test_data.py`` asserts these counts). The python toolkit's
  ``data/tb_100.txt`` on the ``master`` branch of the same repository carries slightly different
  tags for 14 sequences (e.g. Crossing, Car2) that do not reproduce these counts; we do not use it.
* Annotated frame ranges that do not start at frame 1 or stop before the last image
  (David 300-770, Football1 1-74, Freeman3 1-460, Freeman4 1-283 in the MATLAB configs above;
  BlurCar1 247-988, BlurCar3 3-359, BlurCar4 18-397, Diving 1-215 and Board's 5-digit file names
  ``00001.jpg`` in ``butil/seq_config.py`` of the ``likegreen591`` branch of the same repository
  and in pytracking's ``pytracking/evaluation/otbdataset.py``, https://github.com/visionml/pytracking).
  Summed over TB-100 these ranges give 59,040 annotated frames, the benchmark's published total.
* Tiger1's five omitted leading frames: the OTB toolkit's ``initOmit/tiger1.txt`` lists frames
  1-5 as frames where the target is occluded and a tracker must not be started, the OTB-2013
  MATLAB toolkit runs Tiger1 from frame 6, and pytracking's ``otbdataset.py`` drops them with
  ``initOmit: 5``. ``groundtruth_rect.txt`` of Tiger1 has 354 rows, one per image 0001-0354.

Folder and ground-truth file of a sequence follow from its name: ``Jogging.1`` lives in folder
``Jogging`` with ground truth ``groundtruth_rect.1.txt``; a name without a dot lives in the folder of
that name with ``groundtruth_rect.txt``. (``Human4`` is the odd one: its folder holds an empty
``groundtruth_rect.1.txt`` next to the real ``groundtruth_rect.2.txt``; the benchmark's sequence
is ``Human4.2``.) Every sequence zip on the OTB site is named after its folder.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OTB_ATTRIBUTES",
    "SEQUENCES",
    "OTB2013",
    "OTB2015",
    "TB50",
    "SequenceInfo",
    "folders",
]

#: The 11 OTB attribute codes, in the toolkit's order.
OTB_ATTRIBUTES: tuple[str, ...] = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")


@dataclass(frozen=True)
class SequenceInfo:
    """One benchmark target.

    ``first`` .. ``last`` are the (1-based, inclusive) numbers of the image files that the
    ground-truth file annotates, one row each; ``digits`` is the zero padding of the file names;
    ``init_omit`` is the number of leading annotated frames the OTB toolkit leaves out (Tiger1: 5).
    """

    name: str
    first: int
    last: int
    digits: int
    init_omit: int
    attributes: tuple[str, ...]

    @property
    def folder(self) -> str:
        """Folder of the sequence under the OTB root (``Jogging`` for ``Jogging.1``)."""
        return self.name.split(".")[0]

    @property
    def gt_file(self) -> str:
        """Ground-truth file name inside the folder (``groundtruth_rect.1.txt`` for ``Jogging.1``)."""
        parts = self.name.split(".")
        return f"groundtruth_rect.{parts[1]}.txt" if len(parts) == 2 else "groundtruth_rect.txt"

    @property
    def n_annotated(self) -> int:
        """Number of rows in the ground-truth file."""
        return self.last - self.first + 1


# name, first frame, last frame, digits in the file name, init-omit, attributes.
# Sources: see the module docstring.
_TABLE = """
Basketball      1   725  4  0  IV,OCC,DEF,OPR,BC
Biker           1   142  4  0  SV,OCC,MB,FM,OPR,OV,LR
Bird1           1   408  4  0  DEF,FM,OV
Bird2           1    99  4  0  OCC,DEF,FM,IPR,OPR
BlurBody        1   334  4  0  SV,DEF,MB,FM,IPR
BlurCar1      247   988  4  0  MB,FM
BlurCar2        1   585  4  0  SV,MB,FM
BlurCar3        3   359  4  0  MB,FM
BlurCar4       18   397  4  0  MB,FM
BlurFace        1   493  4  0  MB,FM,IPR
BlurOwl         1   631  4  0  SV,MB,FM,IPR
Board           1   698  5  0  SV,MB,FM,OPR,OV,BC
Bolt            1   350  4  0  OCC,DEF,IPR,OPR
Bolt2           1   293  4  0  DEF,BC
Box             1  1161  4  0  IV,SV,OCC,MB,IPR,OPR,OV,BC
Boy             1   602  4  0  SV,MB,FM,IPR,OPR
Car1            1  1020  4  0  IV,SV,BC,LR
Car2            1   913  4  0  IV,BC
Car24           1  3059  4  0  IV,SV,BC
Car4            1   659  4  0  IV,SV
CarDark         1   393  4  0  IV,BC
CarScale        1   252  4  0  SV,OCC,FM,IPR,OPR
ClifBar         1   472  4  0  SV,OCC,MB,FM,IPR,OV,BC
Coke            1   291  4  0  IV,OCC,FM,IPR,OPR
Couple          1   140  4  0  SV,DEF,FM,OPR,BC
Coupon          1   327  4  0  OCC,BC
Crossing        1   120  4  0  SV,DEF,BC
Crowds          1   347  4  0  IV,DEF,BC
Dancer          1   225  4  0  SV,DEF,IPR,OPR
Dancer2         1   150  4  0  DEF
David         300   770  4  0  IV,SV,OCC,DEF,MB,IPR,OPR
David2          1   537  4  0  IPR,OPR
David3          1   252  4  0  OCC,DEF,OPR,BC
Deer            1    71  4  0  MB,FM,IPR,BC
Diving          1   215  4  0  SV,DEF,IPR
Dog             1   127  4  0  SV,DEF,OPR
Dog1            1  1350  4  0  SV,IPR,OPR
Doll            1  3872  4  0  IV,SV,OCC,IPR,OPR
DragonBaby      1   113  4  0  SV,OCC,MB,FM,IPR,OPR,OV
Dudek           1  1145  4  0  SV,OCC,DEF,FM,IPR,OPR,OV,BC
FaceOcc1        1   892  4  0  OCC
FaceOcc2        1   812  4  0  IV,OCC,IPR,OPR
Fish            1   476  4  0  IV
FleetFace       1   707  4  0  SV,DEF,MB,FM,IPR,OPR
Football        1   362  4  0  OCC,IPR,OPR,BC
Football1       1    74  4  0  IPR,OPR,BC
Freeman1        1   326  4  0  SV,IPR,OPR
Freeman3        1   460  4  0  SV,IPR,OPR,LR
Freeman4        1   283  4  0  SV,OCC,IPR,OPR,LR
Girl            1   500  4  0  SV,OCC,IPR,OPR
Girl2           1  1500  4  0  SV,OCC,DEF,MB,OPR
Gym             1   767  4  0  SV,DEF,IPR,OPR
Human2          1  1128  4  0  IV,SV,MB,OPR
Human3          1  1698  4  0  SV,OCC,DEF,OPR,BC
Human4.2        1   667  4  0  IV,SV,OCC,DEF
Human5          1   713  4  0  SV,OCC,DEF
Human6          1   792  4  0  SV,OCC,DEF,FM,OPR,OV
Human7          1   250  4  0  IV,SV,OCC,DEF,MB,FM
Human8          1   128  4  0  IV,SV,DEF
Human9          1   305  4  0  IV,SV,DEF,MB,FM
Ironman         1   166  4  0  IV,SV,OCC,MB,FM,IPR,OPR,OV,BC
Jogging.1       1   307  4  0  OCC,DEF,OPR
Jogging.2       1   307  4  0  OCC,DEF,OPR
Jump            1   122  4  0  SV,OCC,DEF,MB,IPR,OPR
Jumping         1   313  4  0  MB,FM
KiteSurf        1    84  4  0  IV,OCC,IPR,OPR
Lemming         1  1336  4  0  IV,SV,OCC,FM,OPR,OV
Liquor          1  1741  4  0  IV,SV,OCC,MB,FM,OPR,OV,BC
Man             1   134  4  0  IV
Matrix          1   100  4  0  IV,SV,OCC,FM,IPR,OPR,BC
Mhyang          1  1490  4  0  IV,DEF,OPR,BC
MotorRolling    1   164  4  0  IV,SV,MB,FM,IPR,BC
MountainBike    1   228  4  0  IPR,OPR,BC
Panda           1  1000  4  0  SV,OCC,DEF,IPR,OPR,OV,LR
RedTeam         1  1918  4  0  SV,OCC,IPR,OPR,LR
Rubik           1  1997  4  0  SV,OCC,IPR,OPR
Shaking         1   365  4  0  IV,SV,IPR,OPR,BC
Singer1         1   351  4  0  IV,SV,OCC,OPR
Singer2         1   366  4  0  IV,DEF,IPR,OPR,BC
Skater          1   160  4  0  SV,DEF,IPR,OPR
Skater2         1   435  4  0  SV,DEF,FM,IPR,OPR
Skating1        1   400  4  0  IV,SV,OCC,DEF,OPR,BC
Skating2.1      1   473  4  0  SV,OCC,DEF,FM,OPR
Skating2.2      1   473  4  0  SV,OCC,DEF,FM,OPR
Skiing          1    81  4  0  IV,SV,DEF,IPR,OPR,LR
Soccer          1   392  4  0  IV,SV,OCC,MB,FM,IPR,OPR,BC
Subway          1   175  4  0  OCC,DEF,BC
Surfer          1   376  4  0  SV,FM,IPR,OPR,LR
Suv             1   945  4  0  OCC,IPR,OV
Sylvester       1  1345  4  0  IV,IPR,OPR
Tiger1          1   354  4  5  IV,OCC,DEF,MB,FM,IPR,OPR
Tiger2          1   365  4  0  IV,OCC,DEF,MB,FM,IPR,OPR,OV
Toy             1   271  4  0  SV,FM,IPR,OPR
Trans           1   124  4  0  IV,SV,OCC,DEF
Trellis         1   569  4  0  IV,SV,IPR,OPR,BC
Twinnings       1   472  4  0  SV,OPR
Vase            1   271  4  0  SV,FM,IPR
Walking         1   412  4  0  SV,OCC,DEF,LR
Walking2        1   500  4  0  SV,OCC
Woman           1   597  4  0  IV,SV,OCC,DEF,MB,FM,OPR
"""


def _parse_table(text: str) -> dict[str, SequenceInfo]:
    table: dict[str, SequenceInfo] = {}
    for line in text.strip().splitlines():
        name, first, last, digits, omit, attrs = line.split()
        codes = tuple(attrs.split(","))
        unknown = set(codes) - set(OTB_ATTRIBUTES)
        if unknown:  # pragma: no cover - guards edits of the table
            raise ValueError(f"otb_meta: {name} has unknown attribute codes {sorted(unknown)}")
        table[name] = SequenceInfo(name, int(first), int(last), int(digits), int(omit), codes)
    return table


#: Every TB-100 target by name.
SEQUENCES: dict[str, SequenceInfo] = _parse_table(_TABLE)

#: OTB-2015 (TB-100): all 100 targets, sorted by name.
OTB2015: tuple[str, ...] = tuple(sorted(SEQUENCES))

#: OTB-2013 (CVPR 2013): 51 targets; Jogging counts twice (Jogging.1, Jogging.2).
OTB2013: tuple[str, ...] = tuple(
    sorted(
        """
        Basketball Bolt Boy Car4 CarDark CarScale Coke Couple Crossing David David2 David3 Deer Dog1
        Doll Dudek FaceOcc1 FaceOcc2 Fish FleetFace Football Football1 Freeman1 Freeman3 Freeman4
        Girl Ironman Jogging.1 Jogging.2 Jumping Lemming Liquor Matrix Mhyang MotorRolling
        MountainBike Shaking Singer1 Singer2 Skating1 Skiing Soccer Subway Suv Sylvester Tiger1
        Tiger2 Trellis Walking Walking2 Woman
        """.split()
    )
)

#: TB-50 (TPAMI 2015): the 50 hardest TB-100 targets.
TB50: tuple[str, ...] = tuple(
    sorted(
        """
        Basketball Biker Bird1 BlurBody BlurCar2 BlurFace BlurOwl Bolt Box Car1 Car4 CarDark
        CarScale ClifBar Couple Crowds David Deer Diving DragonBaby Dudek Football Freeman4 Girl
        Human3 Human4.2 Human6 Human9 Ironman Jump Jumping Liquor Matrix MotorRolling Panda RedTeam
        Shaking Singer2 Skating1 Skating2.1 Skating2.2 Skiing Soccer Surfer Sylvester Tiger2
        Trellis Walking Walking2 Woman
        """.split()
    )
)


def folders(names: tuple[str, ...] | list[str]) -> list[str]:
    """The distinct folders (= OTB download archives) that hold the given sequences, sorted."""
    return sorted({SEQUENCES[n].folder for n in names})
