"""The preview engine (engine/preview/): a deterministic CPU animatic renderer."""

from __future__ import annotations

import numpy as np
import pytest

from engine.base import Engine, EngineError
from engine.preview import PreviewConfig, PreviewEngine, ShotLook, read_legend, resolve_look, snap
from engine.video import save_png
from schemas import Character, MemoryImage, RenderRequest
from story.files import sha256_file

ENGINE = PreviewEngine()
MIA = Character(name="Mia", appearance="a tall woman with short silver hair", attire="a magenta coat and black boots")
TOM = Character(name="Tom", appearance="a bearded man")  # no colour words: look from memory or his name


def req(prompt: str, *, mode: str = "t2v", seed: int = 1, size=(256, 144), frames: int = 17, chars=(MIA,), **kw) -> RenderRequest:
    return RenderRequest(shot_id=kw.pop("shot_id", "01-01"), prompt=prompt, mode=mode, seed=seed, width=size[0],
                         height=size[1], num_frames=frames, characters=list(chars), **kw)


def colour_mask(frame: np.ndarray, colour, tol: float = 40.0) -> np.ndarray:
    """Pixels within ``tol`` (max channel difference) of ``colour``: (H, W) bool."""
    return np.abs(frame.astype(np.int16) - np.asarray(colour, np.int16)).max(axis=-1) <= tol


def figure_mask(frame: np.ndarray) -> np.ndarray:
    """Mia's magenta coat as drawn in daylight (lit close to its bible colour); legend excluded."""
    m = colour_mask(frame, resolve_look(MIA).colours["top"], 45)
    m[: frame.shape[0] // 6, : frame.shape[1] // 3] = False  # the cast legend's chips
    return m


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


def test_protocol_and_description():
    assert isinstance(ENGINE, Engine) and ENGINE.name == "preview"
    line = ENGINE.describe()
    assert "preview" in line and "\n" not in line


def test_full_size_render_is_deterministic_and_reports_progress():
    r = req("At dusk, Mia walks down a rainy city street, neon signs glowing. Medium shot, slow pan left.",
            size=(832, 480), frames=81, chars=(MIA, TOM))
    calls: list[tuple[int, int]] = []
    a = ENGINE.render_shot(r, progress=lambda d, t: calls.append((d, t)))
    assert a.shape == (81, 480, 832, 3) and a.dtype == np.uint8
    assert calls == [(i, 81) for i in range(1, 82)]
    b = ENGINE.render_shot(r)
    assert np.array_equal(a, b)
    legend = read_legend(a[40], ["Mia", "Tom"])
    assert legend["Mia"] == resolve_look(MIA).colours and legend["Tom"] == resolve_look(TOM).colours


def test_seed_changes_details_not_content():
    p = "Morning in a quiet garden, Mia stands by the fence. Wide shot, static camera."
    a, b = ENGINE.render_shot(req(p, seed=1)), ENGINE.render_shot(req(p, seed=2))
    assert not np.array_equal(a, b)
    assert np.abs(a.mean(axis=(0, 1, 2)) - b.mean(axis=(0, 1, 2))).max() < 15  # same palette (day vs night: > 50)
    assert read_legend(a[0], ["Mia"]) == read_legend(b[0], ["Mia"])  # same character look
    assert abs(int(figure_mask(a[0]).sum()) - int(figure_mask(b[0]).sum())) < 0.25 * figure_mask(a[0]).sum()


@pytest.mark.parametrize("prompt, framing, camera, time", [
    ("Wide establishing shot of the valley at sunset, slow pan right.", "wide", "pan_right", "golden"),
    ("Medium shot of Mia in the kitchen at night, camera pans left.", "medium", "pan_left", "night"),
    ("Extreme close-up of her eyes, slow push-in. Morning light.", "close", "push_in", "morning"),
    ("Medium close-up, gentle downward tilt as the cat settles at dusk.", "close", "tilt_down", "dusk"),
    ("A long shot across the dunes in the afternoon; locked-off camera.", "wide", "static", "afternoon"),
    ("Close up of the map, zoom out to reveal the room at noon.", "close", "zoom_out", "day"),
    ("The camera follows Mia through the market at dawn, tracking shot.", "medium", "track", "dawn"),
    ("Slow dolly back to reveal the studio. Evening.", "medium", "pull_out", "evening"),
    ("夜晚，城市街道，特写，下雨", "close", "drift", "night"),
    ("Xyzzy plugh frobozz 42 !!", "medium", "drift", "neutral"),
])
def test_prompt_words_are_read(prompt, framing, camera, time):
    look = ShotLook.from_prompt(prompt)
    assert (look.framing, look.camera, look.time) == (framing, camera, time)


def test_framing_sets_figure_size():
    sizes = [int(figure_mask(ENGINE.render_shot(req(f"Mia waits. {w}, static camera."))[8]).sum())
             for w in ("Wide shot", "Medium shot", "Close-up")]
    assert 0 < sizes[0] < sizes[1] < sizes[2], sizes
    assert sizes[1] > 3 * sizes[0]


@pytest.mark.parametrize("words, axis, sign", [
    ("slow pan left", 0, +1), ("slow pan right", 0, -1), ("camera tilts up", 1, +1), ("camera tilts down", 1, -1),
])
def test_camera_moves_the_picture(words, axis, sign):
    f = ENGINE.render_shot(req(f"Mia stands still. Wide shot, {words}."))
    move = centroid(figure_mask(f[-1])) - centroid(figure_mask(f[0]))
    assert sign * move[axis] > 4, move
    assert abs(move[1 - axis]) < 3, move
    steps = [mad(f[i], f[i + 1]) for i in range(len(f) - 1)]
    assert max(steps) < 6  # smooth: no jumps between frames


def test_zoom_static_and_default_drift():
    z = ENGINE.render_shot(req("Mia waits. Medium shot, slow zoom in."))
    assert figure_mask(z[-1]).sum() > 1.3 * figure_mask(z[0]).sum()
    s = ENGINE.render_shot(req("Mia waits. Medium shot, static camera."))
    assert all(np.array_equal(s[0], s[i]) for i in range(1, len(s)))
    d = ENGINE.render_shot(req("Mia waits. Medium shot."))
    assert not np.array_equal(d[0], d[-1]) and mad(d[0], d[-1]) < 20


def mean_rgb(frames: np.ndarray) -> np.ndarray:
    return frames[:, : frames.shape[1] * 3 // 4].reshape(-1, 3).mean(axis=0)  # above the caption


def test_palette_follows_time_mood_and_weather():
    base = "Mia on a hill. Wide shot, static camera. "
    noon, night = mean_rgb(ENGINE.render_shot(req(base + "Noon."))), mean_rgb(ENGINE.render_shot(req(base + "Night.")))
    assert noon.mean() > night.mean() + 50
    sunset = mean_rgb(ENGINE.render_shot(req(base + "Sunset.")))
    assert sunset[0] - sunset[2] > noon[0] - noon[2] + 20  # warmer
    warm, cold = (mean_rgb(ENGINE.render_shot(req(base + m))) for m in ("Warm and cozy.", "Cold and icy."))
    assert warm[0] - warm[2] > cold[0] - cold[2] + 20
    gloomy, cheerful = (ENGINE.render_shot(req(base + m)) for m in ("Gloomy.", "Cheerful."))
    sat = lambda f: float((f.max(axis=-1).astype(int) - f.min(axis=-1)).mean())  # noqa: E731
    assert sat(cheerful) > sat(gloomy) + 10
    rain = ENGINE.render_shot(req(base + "Noon, heavy rain."))
    assert not np.array_equal(rain[0], rain[1])  # falling rain animates a static shot
    for odd in ("Ωμέγα ☃ 🙂 ⁂", "日本語のテキストだけ", "x" * 3000):
        f = ENGINE.render_shot(req(odd))
        assert f.shape == (17, 144, 256, 3)


def test_character_looks_follow_the_bible_and_stay_consistent():
    look = resolve_look(MIA)
    assert look.colours["top"] == snap((210, 40, 160)) and look.sources["top"] == "bible"
    assert look.sources["bottom"] == "bible" and look.sources["hair"] == "bible" and look.sources["skin"] == "name"
    shots = [ENGINE.render_shot(req(p, chars=(MIA, TOM), shot_id=f"0{i + 1}-01"))
             for i, p in enumerate(["Mia and Tom in the garden at noon. Wide shot.",
                                    "Mia and Tom in a bar at night. Close-up, pan left.",
                                    "Tom and Mia on the beach at dawn. Medium shot, handheld."])]
    legends = [read_legend(s[5], ["Mia", "Tom"]) for s in shots]
    assert legends[0] == legends[1] == legends[2]
    assert legends[0]["Mia"]["top"] == look.colours["top"]
    assert legends[0]["Tom"] == resolve_look(TOM).colours  # from his name: the same in every shot
    # The figure itself wears the coat: its colour covers a visible area of the daylight shot.
    assert figure_mask(shots[0][5]).sum() > 40
    red = Character(name="Mia", attire="a red coat")
    assert read_legend(ENGINE.render_shot(req("Mia at noon. Wide shot.", chars=(red,)))[0], ["Mia"])["Mia"]["top"] == snap((200, 36, 36))


def reference_image(path, colour, hair=(240, 200, 60)):
    """A reference 'photo': a figure in ``colour`` on a grey backdrop, hair on top. (96, 128, 3)."""
    img = np.full((96, 128, 3), 110, np.uint8)
    img[40:90, 40:88] = colour
    img[6:22, 50:78] = hair
    save_png(img, path)
    return MemoryImage(id="ref-tom-0", path=str(path), sha256=sha256_file(path), characters=["Tom"])


def test_memory_fills_what_the_bible_leaves_open(tmp_path):
    purple = (120, 40, 170)
    ref = reference_image(tmp_path / "tom.png", purple)
    p = "Tom waits at the station at noon. Wide shot, static camera."
    without = ENGINE.render_shot(req(p, chars=(TOM,)))
    with_ref = ENGINE.render_shot(req(p, chars=(TOM,), mode="m2v", memory=[ref]))
    got = read_legend(with_ref[0], ["Tom"])["Tom"]
    assert got["top"] == snap(purple) and got["hair"] == snap((240, 200, 60))
    assert read_legend(without[0], ["Tom"])["Tom"]["top"] == resolve_look(TOM).colours["top"] != snap(purple)
    # Visibly: the figure wears purple (beyond the legend chip).
    body = colour_mask(with_ref[0], snap(purple), 45)
    body[:20, :100] = False
    assert body.sum() > 30 and colour_mask(without[0], snap(purple), 45)[20:].sum() < body.sum() / 4
    # The bible wins over memory where it speaks.
    tom_green = Character(name="Tom", appearance="a bearded man", attire="a green jacket")
    f = ENGINE.render_shot(req(p, chars=(tom_green,), mode="m2v", memory=[ref]))
    assert read_legend(f[0], ["Tom"])["Tom"]["top"] == snap((50, 150, 70))
    # The look carries on through later shots' keyframes (their legend), without the reference.
    save_png(with_ref[8], tmp_path / "01-01-k1.png")
    kf = MemoryImage(id="01-01-k1", path=str(tmp_path / "01-01-k1.png"), sha256=sha256_file(tmp_path / "01-01-k1.png"),
                     characters=["Tom"])
    later = ENGINE.render_shot(req("Tom in the rain at night. Close-up.", chars=(TOM,), mode="m2v", memory=[kf],
                                   shot_id="02-01"))
    assert read_legend(later[0], ["Tom"])["Tom"]["top"] == snap(purple)


def test_memory_pulls_the_palette(tmp_path):
    orange = np.zeros((144, 256, 3), np.uint8)
    orange[:] = (230, 120, 30)
    save_png(orange, tmp_path / "k.png")
    mem = MemoryImage(id="01-01-k1", path=str(tmp_path / "k.png"), sha256=sha256_file(tmp_path / "k.png"), characters=[])
    p = "Mia by the lake at noon. Wide shot, static camera."
    plain = mean_rgb(ENGINE.render_shot(req(p)))
    pulled = mean_rgb(ENGINE.render_shot(req(p, mode="m2v", memory=[mem])))
    assert pulled[0] - pulled[2] > plain[0] - plain[2] + 40  # towards orange
    off = PreviewEngine(PreviewConfig(memory_pull=0.0, caption=False))  # (the caption names the mode)
    assert np.array_equal(off.render_shot(req(p, mode="m2v", memory=[mem])), off.render_shot(req(p)))


def test_mi2v_starts_on_the_first_frame_and_continues_smoothly(tmp_path):
    prev = ENGINE.render_shot(req("Mia crosses the square at noon. Wide shot, pan right.", size=(832, 480), frames=81))
    save_png(prev[-1], tmp_path / "last.png")
    p = "Mia stops and looks up at the sky at noon. Medium shot, tilt up."
    f = ENGINE.render_shot(req(p, mode="mi2v", first_frame=str(tmp_path / "last.png"), size=(832, 480), frames=81,
                               shot_id="01-02"))
    assert np.array_equal(f[0], prev[-1])
    pic = slice(int(480 * 0.15), int(480 * 0.72))  # the caption and legend switch at the boundary
    boundary = mad(f[0][pic], f[1][pic])
    steps = [mad(f[i], f[i + 1]) for i in range(1, 80)]
    cut = mad(prev[-1][pic], ENGINE.render_shot(req(p, size=(832, 480), frames=81, shot_id="01-02"))[0][pic])
    assert boundary < 2 and max(steps) < 8 and max(steps) < cut / 4, (boundary, max(steps), cut)
    # A first frame of another size is resized to the request's size.
    small = ENGINE.render_shot(req(p, mode="mi2v", first_frame=str(tmp_path / "last.png"), shot_id="01-02"))
    band = slice(int(144 * 0.15), int(144 * 0.72))
    assert small.shape == (17, 144, 256, 3) and mad(small[0][band], small[1][band]) < 6


def test_mm2v_starts_on_the_motion_frames_and_continues_the_motion(tmp_path):
    prev = ENGINE.render_shot(req("Mia at noon in the park. Wide shot, pan left.", frames=33))
    paths = []
    for i, fr in enumerate(prev[-7:-2]):  # frames still in motion
        paths.append(str(tmp_path / f"m{i}.png"))
        save_png(fr, paths[-1])
    f = ENGINE.render_shot(req("Mia keeps walking in the park at noon. Wide shot, pan left.", mode="mm2v",
                               motion_frames=paths, shot_id="01-02", frames=33))
    assert all(np.array_equal(f[i], prev[-7 + i]) for i in range(5))
    # Smooth from the last motion frame on (picture area: the caption and legend switch to the new
    # shot's at its first new frame, the shot boundary).
    pic = slice(int(144 * 0.15), int(144 * 0.72))
    lead_steps = [mad(f[i][pic], f[i + 1][pic]) for i in range(4)]
    steps = [mad(f[i][pic], f[i + 1][pic]) for i in range(4, 32)]
    assert steps[0] < 2 * max(lead_steps) and max(steps) < 8, (lead_steps, steps)
    # The motion goes on: frame 5 looks like frame 4 moved on, more than like frame 4 standing still.
    shift = np.roll(f[4], int(round(centroid(figure_mask(f[4]))[0] - centroid(figure_mask(f[3]))[0])), axis=1)
    assert mad(f[5][pic], shift[pic]) < mad(f[5][pic], f[4][pic])


def test_missing_images_are_engine_errors(tmp_path):
    mem = MemoryImage(id="01-01-k1", path=str(tmp_path / "gone.png"), sha256="0" * 64, characters=[])
    with pytest.raises(EngineError, match="gone.png"):
        ENGINE.render_shot(req("Mia.", mode="m2v", memory=[mem]))


def test_caption_is_drawn_at_the_bottom():
    p = "Mia reads a long letter by the window in the morning. Medium shot, static camera."
    size = (416, 240)
    on = ENGINE.render_shot(req(p, size=size))
    off = PreviewEngine(PreviewConfig(caption=False)).render_shot(req(p, size=size))
    h = on.shape[1]
    assert not np.array_equal(on[0, -h // 8:], off[0, -h // 8:])
    assert np.array_equal(on[0, h // 6: h // 2, : on.shape[2] // 2], off[0, h // 6: h // 2, : on.shape[2] // 2])
    band = on[0, -h // 8:].astype(int)
    assert (band.min(axis=-1) > 220).sum() > 30  # white text


def test_legend_is_not_found_where_there_is_none():
    rng = np.random.default_rng(0)
    for img in (np.zeros((144, 256, 3), np.uint8), np.full((144, 256, 3), 20, np.uint8),
                rng.integers(0, 256, (144, 256, 3), dtype=np.uint8)):
        assert read_legend(img, ["Mia", "Tom"]) == {}
    f = ENGINE.render_shot(req("Mia at noon.", chars=(MIA,)))
    assert set(read_legend(f[0], ["Mia", "Tom"])) == {"Mia"}  # Tom is not in this shot
