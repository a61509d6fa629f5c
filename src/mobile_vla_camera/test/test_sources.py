import cv2
import numpy as np
import pytest

from mobile_vla_camera import pattern
from mobile_vla_camera.sources import (
    CsiSource,
    FileSource,
    ImageFolderSource,
    SourceError,
    SyntheticSource,
    V4l2Source,
    csi_pipeline,
    gstreamer_available,
)


def read_all(source, limit=1000):
    frames = []
    while len(frames) < limit:
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


def test_image_folder_frames_are_bit_exact_and_in_name_order(image_folder):
    folder, expected = image_folder
    (folder / 'notes.txt').write_text('not an image')
    source = ImageFolderSource(str(folder), fps=30, loop=False)
    source.open()
    frames = read_all(source)
    assert len(frames) == 5
    for frame, image in zip(frames, expected, strict=True):
        np.testing.assert_array_equal(frame.image, image)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.media_ns for f in frames] == [round(i * 1e9 / 30) for i in range(5)]


def test_image_folder_loops_with_a_running_index(image_folder):
    folder, expected = image_folder
    source = ImageFolderSource(str(folder), loop=True)
    source.open()
    frames = [source.read() for _ in range(12)]
    np.testing.assert_array_equal(frames[5].image, expected[0])
    assert [f.index for f in frames] == list(range(12))


def test_image_folder_faults_say_what_to_check(tmp_path, image_folder):
    with pytest.raises(SourceError, match='not found'):
        ImageFolderSource(str(tmp_path / 'missing')).open()
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(SourceError, match='no images'):
        ImageFolderSource(str(empty)).open()
    folder, expected = image_folder
    source = ImageFolderSource(str(folder))
    source.open()
    (folder / 'frame_001.png').write_bytes(b'broken')
    # One unreadable file is skipped and listed: the sequence goes on, it never restarts.
    frames = [source.read() for _ in range(3)]
    np.testing.assert_array_equal(frames[1].image, expected[2])
    assert [f.index for f in frames] == [0, 1, 2]
    assert len(source.skipped) == 1 and 'frame_001.png' in source.skipped[0]
    for path in folder.iterdir():
        path.write_bytes(b'broken')
    with pytest.raises(SourceError, match='none of the images'):
        source.read()


def test_video_file_frames_carry_their_counter(pattern_video):
    source = FileSource(str(pattern_video), loop=False)
    source.open()
    assert source.fps == pytest.approx(30.0)
    frames = read_all(source)
    assert [pattern.read_counter(f.image) for f in frames] == list(range(60))
    assert [f.media_ns for f in frames[:3]] == [0, 33_333_333, 66_666_667]
    source.close()


def test_video_file_loops_back_to_its_first_frame(pattern_video):
    source = FileSource(str(pattern_video), loop=True)
    source.open()
    frames = [source.read() for _ in range(75)]
    assert [pattern.read_counter(f.image) for f in frames] == list(range(60)) + list(range(15))
    assert [f.index for f in frames] == list(range(75))


def test_video_file_faults(tmp_path):
    with pytest.raises(SourceError, match='not found; check the path'):
        FileSource(str(tmp_path / 'missing.mp4')).open()
    junk = tmp_path / 'junk.mp4'
    junk.write_bytes(b'\0' * 1000)
    with pytest.raises(SourceError, match='cannot decode|no readable frames'):
        source = FileSource(str(junk))
        source.open()
        source.read()


def test_synthetic_counter_runs_without_gaps():
    source = SyntheticSource(640, 360, fps=30)
    source.open()
    frames = [source.read() for _ in range(40)]
    assert [pattern.read_counter(f.image) for f in frames] == list(range(40))
    assert frames[0].image.shape == (360, 640, 3)
    np.testing.assert_array_equal(frames[3].image, pattern.render(3, 360, 640))


def test_missing_v4l2_device_names_what_to_check():
    with pytest.raises(SourceError, match='/dev/video99 not found.*v4l2-ctl'):
        V4l2Source('/dev/video99', 1280, 720, 30).open()


def test_csi_pipeline_is_built_from_parameters():
    text = csi_pipeline(sensor_id=1, width=1920, height=1080, fps=60, flip_method=2,
                        output_width=1280, output_height=720)
    assert text.startswith('nvarguscamerasrc sensor-id=1 ! ')
    assert 'width=(int)1920, height=(int)1080, framerate=(fraction)60/1' in text
    assert 'nvvidconv flip-method=2 ! ' in text
    assert 'width=(int)1280, height=(int)720, format=(string)BGRx' in text
    assert text.endswith('appsink drop=true max-buffers=1 sync=false')
    assert 'flip-method=0' in csi_pipeline(flip_method=0)
    with pytest.raises(ValueError):
        csi_pipeline(flip_method=8)


@pytest.mark.skipif(gstreamer_available(), reason='this OpenCV has GStreamer')
def test_csi_without_gstreamer_explains_the_fix():
    with pytest.raises(SourceError, match='without GStreamer.*source:=v4l2'):
        CsiSource(csi_pipeline(), 30).open()


@pytest.mark.skipif(not gstreamer_available(), reason='this OpenCV was built without GStreamer')
def test_gstreamer_pipeline_runs_through_the_csi_code_path():
    pipeline = ('videotestsrc pattern=ball num-buffers=20 ! video/x-raw, width=320, '
                'height=240, framerate=30/1 ! videoconvert ! video/x-raw, format=BGR ! '
                'appsink drop=true max-buffers=1 sync=false')
    source = CsiSource(pipeline, 30)
    source.open()
    frame = source.read()
    assert frame.image.shape == (240, 320, 3) and frame.image.dtype == np.uint8
    source.close()


def test_opencv_can_write_the_test_media():
    assert cv2.VideoWriter_fourcc(*'mp4v') > 0
