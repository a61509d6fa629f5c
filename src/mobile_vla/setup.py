import os
from glob import glob

from setuptools import find_packages, setup

package_name = 'mobile_vla'
# The workspace's config/ and launch/ install as share files of the core package, so
# presets, parameter files and the launch file are found however it is installed
# (mobile_vla.resources). Paths are relative to this file, as setuptools wants them.
WORKSPACE = os.path.join('..', '..')
SHARED = ('config', 'config/model', 'config/train', 'config/language', 'launch')


def share_files(folder):
    files = sorted(f for f in glob(os.path.join(WORKSPACE, folder, '*')) if os.path.isfile(f))
    return (os.path.join('share', package_name, folder), files)


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        *[share_files(folder) for folder in SHARED],
    ],
    install_requires=['setuptools'],
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='Mobile VLA maintainers',
    maintainer_email='mobile-vla@example.com',
    description=(
        'Mobile VLA core library: topics, actions, message conversion, rosbag2 I/O '
        'and the deterministic replay executor.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'mobile-vla = mobile_vla.cli:main',
        ],
    },
)
