#!/usr/bin/env bash
# Inside a built image: start the graph as the robot does (ros2 launch, synthetic camera,
# the policy in charge), send an instruction as a user does (ros2 topic pub), and check
# that /cmd_vel answers and that `stop` brings it to zero. Prints the figures; exit 0 on
# success. docker/build_and_smoke.sh runs it; by hand:
#   docker run --rm --ipc=host mobile-vla:humble docker/smoke.sh
INSTRUCTION='go around the box on the left to the cup'
LOG=/tmp/smoke_launch.log
# /cmd_vel as Humble's `ros2 topic echo --csv` prints it, one line per message.
CMD_VEL="${SMOKE_CMD_VEL:-/tmp/smoke_cmd_vel.csv}"

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fail() { echo "smoke: FAILED: $*" >&2; echo "--- last lines of the launch log ($LOG):" >&2;
         tail -n 30 "$LOG" >&2; exit 1; }
# The first line after line $2 whose linear or angular part is not zero ("moving") or
# is all zero ("zero"), waiting up to $3 seconds; prints it, or fails.
wait_cmd_vel() {
    local deadline line
    deadline=$(awk -v t="$(now)" -v d="$3" 'BEGIN { printf "%.3f", t + d }')
    while awk -v a="$(now)" -v b="$deadline" 'BEGIN { exit !(a < b) }'; do
        line=$(awk -F, -v want="$1" -v from="$2" 'NR > from {
                   moving = 0; for (i = 1; i <= NF; i++) if ($i + 0 != 0) moving = 1
                   if ((want == "moving" && moving) || (want == "zero" && !moving)) { print; exit } }' \
               "$CMD_VEL")
        [ -n "$line" ] && { echo "$line"; return 0; }
        sleep 0.05
    done
    return 1
}
lines() { wc -l <"$CMD_VEL"; }

main() {
    set -uo pipefail
    cd "${MOBILE_VLA_HOME:-/ws}"
    set +u
    # shellcheck disable=SC1091
    . /opt/ros/humble/install/setup.bash 2>/dev/null || . /opt/ros/humble/setup.bash
    # shellcheck disable=SC1091
    . install/setup.bash
    set -u
    export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-77}" ROS_LOCALHOST_ONLY=1
    local device="${SMOKE_DEVICE:-cpu}"    # the Jetson image: SMOKE_DEVICE=auto (TensorRT, CUDA)

    start=$(now)
    ros2 launch launch/mobile_vla.launch.py camera_source:=synthetic mode:=vla record:=false \
        device:="$device" >"$LOG" 2>&1 &
    launch=$!
    PYTHONUNBUFFERED=1 ros2 topic echo /cmd_vel geometry_msgs/msg/Twist --csv >"$CMD_VEL" 2>/dev/null &
    echoer=$!
    trap 'kill -INT "$echoer" "$launch" 2>/dev/null; wait "$launch" 2>/dev/null' EXIT

    # Humble's `ros2 topic pub --once` waits for the inference node's subscription (-w 1).
    timeout 120 ros2 topic pub --once -w 1 /vla/command std_msgs/msg/String \
        "{data: '$INSTRUCTION'}" >/dev/null || fail 'vla_inference never subscribed to /vla/command in 120 s'
    sent=$(now)
    echo "smoke: graph up, instruction taken $(seconds "$start" "$sent") s after the launch"
    moving=$(wait_cmd_vel moving 0 60) || fail 'no non-zero /cmd_vel within 60 s of the instruction'
    echo "smoke: first non-zero /cmd_vel $(seconds "$sent" "$(now)") s after the instruction: $moving"

    from=$(lines)
    ros2 topic pub --once -w 1 /vla/command std_msgs/msg/String "{data: 'stop'}" >/dev/null
    stopped=$(now)
    wait_cmd_vel zero "$from" 10 >/dev/null || fail '/cmd_vel did not go to zero within 10 s of stop'
    echo "smoke: /cmd_vel zero $(seconds "$stopped" "$(now)") s after stop"
    echo 'smoke: ok'
}

# Sourced (tests/test_requirements.py checks the /cmd_vel reading here), only the helpers;
# run in any other way (a file, a pipe into bash), the smoke test.
(return 0 2>/dev/null) || main "$@"
