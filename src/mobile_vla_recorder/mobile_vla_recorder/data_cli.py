"""mobile-vla data: validate, inspect, augment and cut episode collections.

    mobile-vla data validate EPISODES...        every file, with what is wrong
    mobile-vla data stats EPISODES... [--png F] episodes per scenario, frames, actions
    mobile-vla data augment IN OUT --kind mirror|photometric|distance [--copies N]
    mobile-vla data from-bag BAG OUT            episodes from a recorded rosbag2
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mobile_vla.augment import distance_scaled, mirror, photometric
from mobile_vla.bus import ReplayBus
from mobile_vla.config import ConfigError, positive_int
from mobile_vla.episode import (
    EpisodeError,
    episode_paths,
    leftover_temp_files,
    read_episode,
    validate_episode,
)
from mobile_vla.episode_stats import collect_stats
from mobile_vla.replay import ReplayExecutor
from mobile_vla.units import NS
from mobile_vla_recorder.store import EpisodeStore
from mobile_vla_recorder.wiring import RecorderWiring


def _validate(args: argparse.Namespace) -> int:
    paths = episode_paths(*args.episodes)
    bad = 0
    for path in tqdm(paths, desc='validating', unit='file', disable=len(paths) < 20):
        problems = validate_episode(path)
        if problems:
            bad += 1
            for problem in problems:
                print(f'BAD  {problem}')
        elif args.verbose:
            print(f'ok   {path}')
    temps = [t for folder in args.episodes if Path(folder).is_dir()
             for t in leftover_temp_files(folder)]
    for temp in temps:
        print(f'note {temp}: partial file of an interrupted writer; never loaded, safe to '
              'delete (the recorder removes it on start)')
    print(f'{len(paths) - bad} of {len(paths)} episode files are valid')
    return 1 if bad or not paths else 0


def _stats(args: argparse.Namespace) -> int:
    stats = collect_stats(episode_paths(*args.episodes))
    print(stats.text())
    if args.png:
        print(f'plot: {stats.plot(args.png)}')
    return 0 if stats.episodes else 1


#: The largest --zoom-max: beyond it the cup leaves the frame.
MAX_ZOOM = 4.0


def _augment(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.zoom_min) and math.isfinite(args.zoom_max)
            and 0 < args.zoom_min <= args.zoom_max <= MAX_ZOOM):
        raise ConfigError(f'need 0 < --zoom-min <= --zoom-max <= {MAX_ZOOM}, got '
                          f'{args.zoom_min} and {args.zoom_max}')
    rng = np.random.default_rng(args.seed)
    store = EpisodeStore(args.output, args.compression)
    paths = episode_paths(args.input)
    written = skipped = 0
    for path in tqdm(paths, desc=f'augment ({args.kind})', unit='episode'):
        try:
            episode = read_episode(path)
            if args.kind == 'mirror':
                variants = [mirror(episode)]
            elif args.kind == 'photometric':
                variants = [photometric(episode, rng, suffix=f'_photo{k}')
                            for k in range(args.copies)]
            else:
                zooms = rng.uniform(args.zoom_min, args.zoom_max, size=args.copies)
                variants = [distance_scaled(episode, float(z)) for z in zooms]
        except (EpisodeError, ValueError, cv2.error) as exc:  # one bad file never stops
            print(f'SKIP {exc if isinstance(exc, EpisodeError) else f"{path}: {exc}"}')
            skipped += 1
            continue
        for variant in variants:
            store.write(variant)
            written += 1
    print(f'wrote {written} augmented episodes from {len(paths) - skipped} to {store.folder}'
          + (f'; {skipped} bad files skipped (mobile-vla data validate says why)'
             if skipped else ''))
    return 0 if paths and not skipped else 1


def _from_bag(args: argparse.Namespace) -> int:
    store = EpisodeStore(args.output, args.compression)
    params = {'output_dir': str(store.folder), 'max_frames': args.max_frames,
              'mode': args.mode, 'compression': args.compression, 'min_free_mb': 0.0}
    written = []

    def save(episode):
        path = store.write(episode)
        written.append(path)
        print(f'saved {path.name}: {episode.num_frames} frames, {episode.scenario}')

    ex = ReplayExecutor()
    bus = ReplayBus(ex, params, args.namespace, log=lambda text: print(f'recorder: {text}'))
    recorder = RecorderWiring(bus, on_episode=save).recorder
    ex.run_bag(args.bag)
    if recorder.recording:
        result = recorder.on_control('stop', ex.stats.end_ns / NS)
        print(f'recorder: end of bag: {result.message}')
        if result.episode is not None:
            save(result.episode)
    print(f'{len(written)} episodes from {args.bag} in {store.folder}')
    if not written:
        print('no episode: the bag needs recorder/control start/stop messages, camera/image '
              'and cmd_vel', file=sys.stderr)
    return 0 if written else 1


def add_data_command(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser('data', help='validate, inspect, augment and cut episodes',
                          description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    data_sub = data.add_subparsers(dest='data_command', required=True)

    p = data_sub.add_parser('validate', help='check every episode file')
    p.add_argument('episodes', nargs='+', help='episode files or folders')
    p.add_argument('-v', '--verbose', action='store_true', help='list valid files too')
    p.set_defaults(func=_validate)

    p = data_sub.add_parser('stats', help='episodes per scenario, frames, action histograms')
    p.add_argument('episodes', nargs='+', help='episode files or folders')
    p.add_argument('--png', help='also write the histograms to this PNG')
    p.set_defaults(func=_stats)

    p = data_sub.add_parser('augment', help='write augmented copies of episodes')
    p.add_argument('input', help='folder of episodes')
    p.add_argument('output', help='folder for the augmented episodes')
    p.add_argument('--kind', choices=('mirror', 'photometric', 'distance'), required=True)
    p.add_argument('--copies', type=positive_int, default=1,
                   help='photometric/distance: per episode')
    p.add_argument('--zoom-min', type=float, default=0.85)
    p.add_argument('--zoom-max', type=float, default=1.15)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--compression', default='lzf', choices=('gzip', 'lzf', 'none'))
    p.set_defaults(func=_augment)

    p = data_sub.add_parser('from-bag', help='cut a recorded rosbag2 into episodes')
    p.add_argument('bag', help='rosbag2 folder')
    p.add_argument('output', help='folder for the episodes')
    p.add_argument('--namespace', default='', help='robot namespace the topics were under')
    p.add_argument('--max-frames', type=positive_int, default=18)
    p.add_argument('--mode', choices=('events', 'fixed_rate'), default='events')
    p.add_argument('--compression', default='lzf', choices=('gzip', 'lzf', 'none'))
    p.set_defaults(func=_from_bag)
