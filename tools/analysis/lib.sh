# Shell helpers of the run scripts in this folder (sourced, not run).

declare -gA _MAX_EPOCHS=()

# work_dir ROOT CONFIG SEED: the work dir of CONFIG's run with SEED,
# ROOT/<config name>/seed<SEED> (every run script's layout, and what
# collect_results.py export is pointed at).
work_dir() {
    echo "$1/$(basename "$2" .py)/seed$3"
}

# max_epochs CONFIG: sets REPLY to the config's train_cfg.max_epochs, read
# once per config and shell (a Python start each time otherwise), without
# the config's custom_imports (no mmghm, no torchvision). The last line
# only: MMEngine logs to stdout when a config reads an environment variable
# (CIFAR10_JPEG_ROOT).
max_epochs() {
    if [ -z "${_MAX_EPOCHS[$1]:-}" ]; then
        _MAX_EPOCHS[$1]=$(python -c "import sys; from mmengine import Config; print(Config.fromfile(sys.argv[1], import_custom_modules=False).train_cfg.max_epochs)" "$1" 2>/dev/null | tail -n 1)
    fi
    REPLY=${_MAX_EPOCHS[$1]}
}

# final_checkpoint CONFIG WORK_DIR: sets REPLY to the checkpoint a finished
# training of CONFIG leaves in WORK_DIR (epoch_<max_epochs>.pth).
final_checkpoint() {
    max_epochs "$1"
    REPLY="$2/epoch_$REPLY.pth"
}
