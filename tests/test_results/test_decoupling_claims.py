"""The sentences of docs/resampling_and_decoupling.md ("What the rows show")
and docs/choosing_a_loss.md about decoupled training hold for the committed
result files, and each stage 2 is of a committed stage-1 run of its own
seed. When a new seed changes the picture, this fails and the prose has to
change with it."""
import importlib.util
from pathlib import Path

from mmghm.results.tables import metric_value

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


def test_crt_lifts_every_ghm_cwap_seed_but_ends_below_crt_on_ce_and_bs(
        suite, committed_results):
    """cRT on GHM-CWAP: above GHM-CWAP for each seed (and by more than the
    seed spread on average), Medium and Few up, Many down; below cRT on
    cross-entropy and below Balanced Softmax alone."""
    # per seed, the same results as the suite fixture's (no variants)
    top1 = {(r.config_stem.split('_')[0], r.data['seed']):
            metric_value(r.data['metrics'], 'top1')
            for r in committed_results if r.variant is None}
    seeds = [seed for method, seed in top1 if method == 'ghm-cwap-crt']
    assert len(seeds) == 3
    for seed in seeds:
        assert top1['ghm-cwap-crt', seed] > top1['ghm-cwap', seed], seed
    gap, spread = _gap(suite, 'ghm-cwap-crt', 'ghm-cwap')
    assert gap > spread
    assert _gap(suite, 'ghm-cwap-crt', 'ghm-cwap', 'many')[0] < 0
    for group in ('medium', 'few'):
        assert _gap(suite, 'ghm-cwap-crt', 'ghm-cwap', group)[0] > 0, group
    for better in ('softmax-crt', 'balanced-softmax'):
        assert _gap(suite, 'ghm-cwap-crt', better)[0] < 0, better


SAMPLERS = ('softmax-sqrt-sampler', 'softmax-pb-sampler',
            'softmax-cb-sampler')  # in order of how balanced the batches are


def test_every_sampler_is_well_above_ce_and_below_crt(suite):
    for sampler in SAMPLERS:
        gap, spread = _gap(suite, sampler, 'softmax')
        assert gap > 3 * spread, sampler
        assert _gap(suite, sampler, 'softmax-crt')[0] < 0, sampler


def test_more_balanced_sampling_trades_many_for_few(suite):
    for lower, higher in zip(SAMPLERS, SAMPLERS[1:]):
        assert _gap(suite, higher, lower, 'few')[0] > 0, (higher, lower)
        assert _gap(suite, higher, lower, 'many')[0] < 0, (higher, lower)


def test_square_root_sampling_trails_the_other_two_samplers(suite):
    """class-balanced and progressively balanced level (closer than the
    cross-entropy seed spread), square-root below both by more than it."""
    noise = suite['softmax']['top1'].std
    sqrt, pb, cb = (suite[s]['top1'].mean for s in SAMPLERS)
    assert abs(cb - pb) < noise
    assert min(cb, pb) - sqrt > noise


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
