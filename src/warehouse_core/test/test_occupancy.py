"""Nav2 occupancy map loading, PGM I/O, downsampling and the grid <-> world frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from warehouse_core.errors import InputError
from warehouse_core.maps.occupancy import (
    GridFrame,
    OccupancyMap,
    load_occupancy_map,
    occupancy_from_image,
    read_pgm,
    write_pgm,
)

FREE, WALL, UNKNOWN = 254, 0, 128

MAP_YAML = """image: {image}
mode: {mode}
resolution: {resolution}
origin: [{ox}, {oy}, 0.0]
negate: {negate}
occupied_thresh: {occ}
free_thresh: {free}
"""


def write_map(tmp_path, pixels, *, resolution=0.5, ox=0.0, oy=0.0, negate=0, occ=0.65, free=0.25,
              mode="trinary", image="m.pgm", name="m.yaml", ascii=False):
    write_pgm(tmp_path / image, np.asarray(pixels, dtype=np.uint8), ascii=ascii)
    path = tmp_path / name
    path.write_text(MAP_YAML.format(image=image, mode=mode, resolution=resolution, ox=ox, oy=oy,
                                    negate=negate, occ=occ, free=free))
    return path


def assert_input_error(exc_info, *fragments):
    msg = str(exc_info.value)
    for f in fragments:
        assert str(f) in msg, f"{f!r} not in {msg!r}"


# -------------------------------------------------------------------------------- PGM

@pytest.mark.parametrize("ascii", [False, True])
def test_pgm_round_trip(tmp_path, ascii):
    img = np.arange(12 * 7, dtype=np.uint8).reshape(7, 12) * 3
    write_pgm(tmp_path / "a.pgm", img, ascii=ascii, comment="hello\nworld")
    back = read_pgm(tmp_path / "a.pgm")
    assert back.dtype == np.uint8 and back.shape == (7, 12)
    assert np.array_equal(back, img)


def test_pgm_header_comments_and_small_maxval(tmp_path):
    (tmp_path / "c.pgm").write_bytes(b"P5\n# made by hand\n3 # width\n2\n# maxval next\n15\n"
                                     + bytes([0, 15, 5, 10, 15, 0]))
    arr = read_pgm(tmp_path / "c.pgm")
    assert arr.tolist() == [[0, 255, 85], [170, 255, 0]]
    (tmp_path / "d.pgm").write_text("P2\n2 2\n255\n# comment in body\n1 2\n3 4\n")
    assert read_pgm(tmp_path / "d.pgm").tolist() == [[1, 2], [3, 4]]


def test_truncated_pgm(tmp_path):
    p = tmp_path / "t.pgm"
    p.write_bytes(b"P5\n4 3\n255\n" + bytes(7))
    with pytest.raises(InputError) as e:
        read_pgm(p)
    assert_input_error(e, p, "truncated", "12")
    p.write_text("P2\n4 3\n255\n1 2 3\n")
    with pytest.raises(InputError) as e:
        read_pgm(p)
    assert_input_error(e, p, "truncated")


@pytest.mark.parametrize("content, fragment", [
    (b"P6\n2 2\n255\n" + bytes(12), "P6"),
    (b"P5\n2 x\n255\n" + bytes(4), "not integers"),
    (b"P5\n2 2\n65535\n" + bytes(8), "maxval"),
    (b"P5\n2", "header"),
    (b"", "header"),
])
def test_bad_pgm_header(tmp_path, content, fragment):
    p = tmp_path / "bad.pgm"
    p.write_bytes(content)
    with pytest.raises(InputError) as e:
        read_pgm(p)
    assert_input_error(e, p, fragment)
    assert e.value.where in ("header", "pixels")


# -------------------------------------------------------------------------------- occupancy

def test_thresholds_like_map_server():
    v = np.array([[0, 89, 90, 191, 192, 254, 255]], dtype=np.uint8)
    # p = (255 - v) / 255: 1.0, 0.651, 0.647, 0.251, 0.247, 0.004, 0.0
    occ, free = occupancy_from_image(v, occupied_thresh=0.65, free_thresh=0.25)
    assert occ.tolist() == [[True, True, False, False, False, False, False]]
    assert free.tolist() == [[False, False, False, False, True, True, True]]
    occ_n, free_n = occupancy_from_image(v, negate=True)
    # negate: p = v / 255: 0.0, 0.349, 0.353, 0.749, 0.753, 0.996, 1.0
    assert occ_n.tolist() == [[False, False, False, True, True, True, True]]
    assert free_n.tolist() == [[True, False, False, False, False, False, False]]
    # map_saver writes unknown space as 205 (p = 0.19608): unknown with free_thresh 0.196
    occ_u, free_u = occupancy_from_image(np.array([[205]], np.uint8), free_thresh=0.196)
    assert not occ_u[0, 0] and not free_u[0, 0]
    occ_r, free_r = occupancy_from_image(np.array([[0, 10, 50, 100, 101]], np.uint8), mode="raw")
    assert occ_r.tolist() == [[False, False, False, True, False]]
    assert free_r.tolist() == [[True, True, False, False, False]]


def test_load_and_downsample_hand_made_map(tmp_path):
    # 6 x 8 pixels at 0.5 m -> 3 x 4 cells of 1 m
    px = np.full((6, 8), FREE, dtype=np.uint8)
    px[0, 0] = WALL          # cell (0, 0) blocked by one wall pixel
    px[3, 5] = UNKNOWN       # cell (2, 1) blocked by one unknown pixel
    px[5, 6:8] = WALL        # cell (3, 2) blocked
    path = write_map(tmp_path, px, resolution=0.5, ox=-2.0, oy=1.0, ascii=True)
    m = load_occupancy_map(path)
    assert isinstance(m, OccupancyMap)
    assert m.free.shape == (6, 8) and m.resolution == 0.5 and m.origin == (-2.0, 1.0, 0.0)
    assert m.source == str(path)
    assert m.occupied.sum() == 3 and m.free.sum() == 48 - 4 and m.unknown.sum() == 1
    grid, frame = m.to_grid(1.0)
    assert (grid.height, grid.width) == (3, 4)
    expected = np.ones((3, 4), dtype=bool)
    expected[0, 0] = expected[1, 2] = expected[2, 3] = False
    assert np.array_equal(grid.free, expected)
    assert frame == GridFrame(-2.0, 1.0, 1.0, 3)
    # cell (0, 0) is the top-left cell: its centre is 0.5 m right of and 2.5 m above the origin
    assert frame.cell_to_world((0, 0)) == pytest.approx((-1.5, 3.5))
    assert frame.cell_to_world((3, 2)) == pytest.approx((1.5, 1.5))
    # identity downsampling keeps the pixels
    g1, f1 = m.to_grid(0.5)
    assert np.array_equal(g1.free, m.free) and f1.cell_size == 0.5


def test_downsample_pads_partial_cells(tmp_path):
    px = np.full((5, 5), FREE, dtype=np.uint8)   # 5 px at 0.5 m: last cell row/column is half off-map
    m = load_occupancy_map(write_map(tmp_path, px, resolution=0.5, ox=0.0, oy=0.0))
    grid, frame = m.to_grid(1.0)
    assert grid.free.tolist() == [[True, True, False], [True, True, False], [False, False, False]]
    # the image's top edge stays at y = 2.5 m: the padded grid starts 0.5 m below the image
    assert frame.origin_y == pytest.approx(-0.5)
    assert frame.cell_to_world((0, 0)) == pytest.approx((0.5, 2.0))


def test_cell_size_must_be_multiple_of_resolution(tmp_path):
    path = write_map(tmp_path, np.full((4, 4), FREE), resolution=0.1)
    m = load_occupancy_map(path)
    m.to_grid(0.3)   # 3 pixels: fine despite float rounding
    for bad in (0.25, 0.05, -1.0, 0.0):
        with pytest.raises(InputError) as e:
            m.to_grid(bad)
        assert_input_error(e, path, "cell_size")


def test_frame_round_trips():
    frame = GridFrame(origin_x=-3.2, origin_y=7.5, cell_size=0.5, rows=40)
    for c in [(0, 0), (13, 27), (99, 39), (5, 0)]:
        x, y = frame.cell_to_world(c)
        assert frame.world_to_cell(x, y) == c
        # any point inside the cell maps back to it
        assert frame.world_to_cell(x + 0.24, y - 0.24) == c
        assert frame.world_to_cell(x - 0.24, y + 0.24) == c
    assert frame.cell_to_world((0, 39)) == pytest.approx((-3.2 + 0.25, 7.5 + 0.25))
    assert frame.world_to_cell(-3.3, 7.4) == (-1, 40)   # outside: caller checks bounds
    xs, ys = np.array([0, 1, 2, 3]), np.array([39, 38, 0, 5])
    wx, wy = frame.cells_to_world(xs, ys)
    assert isinstance(wx, np.ndarray) and wx.shape == (4,)
    for i in range(4):
        assert (wx[i], wy[i]) == pytest.approx(frame.cell_to_world((int(xs[i]), int(ys[i]))))
    cx, cy = frame.world_to_cells(wx, wy)
    assert cx.tolist() == xs.tolist() and cy.tolist() == ys.tolist()


def test_frame_with_yaw_round_trips():
    frame = GridFrame(1.0, 2.0, 1.0, 10, yaw=math.pi / 2)
    assert frame.cell_to_world((0, 9)) == pytest.approx((0.5, 2.5))
    for c in [(0, 0), (4, 7), (9, 9)]:
        assert frame.world_to_cell(*frame.cell_to_world(c)) == c


# -------------------------------------------------------------------------------- errors

def test_missing_yaml(tmp_path):
    with pytest.raises(InputError) as e:
        load_occupancy_map(tmp_path / "nope.yaml")
    assert_input_error(e, "nope.yaml", "cannot read")


def test_missing_image(tmp_path):
    path = write_map(tmp_path, np.full((2, 2), FREE))
    (tmp_path / "m.pgm").unlink()
    with pytest.raises(InputError) as e:
        load_occupancy_map(path)
    assert_input_error(e, path, "image", "m.pgm", "does not exist")
    assert e.value.fix


def test_truncated_image_via_map(tmp_path):
    path = write_map(tmp_path, np.full((20, 20), FREE))
    data = (tmp_path / "m.pgm").read_bytes()
    (tmp_path / "m.pgm").write_bytes(data[:-50])
    with pytest.raises(InputError) as e:
        load_occupancy_map(path)
    assert_input_error(e, "m.pgm", "truncated")


@pytest.mark.parametrize("occ, free, fragment", [
    (1.5, 0.25, "occupied_thresh"),
    (0.65, -0.1, "free_thresh"),
    (0.3, 0.6, "free_thresh 0.6 must be below occupied_thresh 0.3"),
    (0.5, 0.5, "must be below"),
])
def test_bad_thresholds(tmp_path, occ, free, fragment):
    path = write_map(tmp_path, np.full((2, 2), FREE), occ=occ, free=free)
    with pytest.raises(InputError) as e:
        load_occupancy_map(path)
    assert_input_error(e, path, fragment)


@pytest.mark.parametrize("text, fragment", [
    ("image: m.pgm\nresolution: 0.1\n", "missing key(s) origin, negate, occupied_thresh, free_thresh"),
    ("image: m.pgm\nresolution: 0\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.25\n",
     "resolution 0.0 must be positive"),
    ("image: m.pgm\nresolution: -0.1\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.25\n",
     "resolution"),
    ("image: m.pgm\nresolution: 0.1\norigin: [0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.25\n",
     "origin"),
    ("image: m.pgm\nresolution: 0.1\norigin: [0, 0, 0]\nnegate: 2\noccupied_thresh: 0.65\nfree_thresh: 0.25\n",
     "negate"),
    ("image: m.pgm\nmode: fancy\nresolution: 0.1\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\n"
     "free_thresh: 0.25\n", "mode"),
    ("image: m.png\nresolution: 0.1\norigin: [0, 0, 0]\nnegate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.25\n",
     "m.png"),
    ("- just\n- a list\n", "mapping"),
    ("image: [unclosed\n", "invalid YAML"),
])
def test_bad_map_yaml(tmp_path, text, fragment):
    write_pgm(tmp_path / "m.pgm", np.full((2, 2), FREE, dtype=np.uint8))
    (tmp_path / "m.png").write_bytes(b"\x89PNG")
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as e:
        load_occupancy_map(path)
    assert_input_error(e, path, fragment)
