from setuptools import find_packages, setup

package_name = 'mobile_vla_recorder'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml', 'README.md']),
    ],
    install_requires=['setuptools'],
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='Mobile VLA maintainers',
    maintainer_email='mobile-vla@example.com',
    description=(
        'HDF5 18-frame episode recorder node and its plain component.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'episode_recorder = mobile_vla_recorder.episode_recorder_node:main',
        ],
        # `mobile-vla data ...`: the core command finds it through this group.
        'mobile_vla.commands': [
            'data = mobile_vla_recorder.data_cli:add_data_command',
        ],
    },
)
