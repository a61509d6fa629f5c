from setuptools import find_packages, setup

package_name = 'mobile_vla_control'

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
        'Control arbiter (manual / VLA / hybrid, limits, e-stop) and WASD keyboard teleop'
        ' for the omni-wheel robot.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'control_arbiter = mobile_vla_control.control_arbiter_node:main',
            'wasd_teleop = mobile_vla_control.wasd_teleop_node:main',
        ],
    },
)
