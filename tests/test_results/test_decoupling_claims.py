"""The sentences of docs/resampling_and_decoupling.md ("What the rows show")
and docs/choosing_a_loss.md about decoupled training hold for the committed
result files, and each stage 2 is of a committed stage-1 run of its own
seed. When a new seed changes the picture, this fails and the prose has to
change with it."""
import importlib.util
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _gap(suite, a, b, metric='top1'):
    """mean(a) - mean(b), and the larger of the two seed spreads."""
    sa, sb = suite[a][metric], suite[b][metric]
    return sa.mean - sb.mean, max(sa.std, sb.std)


def _by_checkpoint(results):
    return {(r.data['seed'], r.data['measured'].get('checkpoint_sha256')): r
            for r in results}


def test_every_stage_2_started_from_a_committed_stage_1_run_of_its_seed(
        committed_results):
    """``load_from_sha256`` (recorded at export) is the checkpoint of a
    committed result of the same seed and of the stage-1 config the stage-2
    config inherits (configs/decoupling: ``<stage 1>-crt``, ``-lws``)."""
    runs = _by_checkpoint(committed_results)
    checked = 0
    for res in committed_results:
        sha = res.data['measured'].get('load_from_sha256')
        if sha is None:
            continue
        stage1 = runs.get((res.data['seed'], sha))
        assert stage1 is not None, (
            f'{res.path}: its stage-1 checkpoint {sha[:12]} is no committed '
            f'run of seed {res.data["seed"]}')
        method = res.config_stem.split('_')[0]
        assert method.rsplit('-', 1)[0] == stage1.config_stem.split('_')[0], (
            res.path, stage1.path)
        checked += 1
    # the stage 2s exported with the digest (cRT, LWS on cross-entropy
    # seed 1; Balanced Softmax + cRT seed 0), and every later one
    assert checked >= 3


def test_tau_norm_scores_the_cross_entropy_checkpoint_of_its_seed(
        committed_results):
    runs = _by_checkpoint(committed_results)
    taunorm = [r for r in committed_results
               if r.config_stem.startswith('softmax-taunorm_')]
    assert taunorm
    for res in taunorm:
        stage1 = runs.get((res.data['seed'],
                           res.data['measured']['checkpoint_sha256']))
        assert stage1 is not None and stage1.config_stem.startswith(
            'softmax_'), res.path


def test_crt_on_cross_entropy_gains_most_all_on_medium_and_few(suite):
    assert _gap(suite, 'softmax-crt', 'softmax')[0] > 0
    for other in ('softmax-lws', 'softmax-taunorm', 'softmax-cb-sampler'):
        assert _gap(suite, 'softmax-crt', other)[0] > 0, other
    assert _gap(suite, 'softmax-crt', 'softmax', 'many')[0] < 0
    for group in ('medium', 'few'):
        assert _gap(suite, 'softmax-crt', 'softmax', group)[0] > 0, group


def test_crt_on_cross_entropy_is_level_with_balanced_softmax(suite):
    gap, spread = _gap(suite, 'softmax-crt', 'balanced-softmax')
    assert abs(gap) < spread


def test_lws_falls_between_crt_and_tau_norm(suite):
    assert _gap(suite, 'softmax-crt', 'softmax-lws')[0] > 0
    assert _gap(suite, 'softmax-lws', 'softmax-taunorm')[0] > 0


def test_crt_on_balanced_softmax_stays_in_its_spread_many_up_few_down(
        suite):
    gap, _ = _gap(suite, 'balanced-softmax-crt', 'balanced-softmax')
    assert abs(gap) < suite['balanced-softmax']['top1'].std
    assert _gap(suite, 'balanced-softmax-crt', 'balanced-softmax',
                'many')[0] > 0
    assert _gap(suite, 'balanced-softmax-crt', 'balanced-softmax',
                'few')[0] < 0


def test_class_balanced_sampling_is_well_above_ce_and_below_crt(suite):
    gap, spread = _gap(suite, 'softmax-cb-sampler', 'softmax')
    assert gap > 3 * spread
    assert _gap(suite, 'softmax-cb-sampler', 'softmax-crt')[0] < 0


def test_the_chosen_tau_is_the_largest_of_the_default_grid(
        committed_results):
    spec = importlib.util.spec_from_file_location(
        'select_tau', REPO_ROOT / 'tools' / 'analysis' / 'select_tau.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    taus = [r.data['cfg_options'] for r in committed_results
            if r.config_stem.startswith('softmax-taunorm_')]
    assert taus and all(t == [f'model.head.tau={max(module.DEFAULT_TAUS)}']
                        for t in taus), taus
