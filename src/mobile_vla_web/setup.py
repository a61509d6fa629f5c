from setuptools import find_packages, setup

package_name = 'mobile_vla_web'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['static/*']},
    include_package_data=True,
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml', 'README.md']),
    ],
    install_requires=['setuptools'],
    python_requires='>=3.10',
    zip_safe=False,
    maintainer='Mobile VLA maintainers',
    maintainer_email='mobile-vla@example.com',
    description=(
        'Web console and API of the robot: live camera, instructions, plan status, modes,'
        ' e-stop, keyboard driving, recording and telemetry, behind a token.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'web_console = mobile_vla_web.web_console_node:main',
        ],
    },
)
