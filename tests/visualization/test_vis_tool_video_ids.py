"""tools/visualize.py takes ActivityNet's YouTube ids, which may begin with '-' or '--', as --video
values."""
import importlib.util
import json

from testing_utils import ROOT


def test_video_ids_beginning_with_dashes(tmp_path):
    spec = importlib.util.spec_from_file_location('tool_visualize_ids', ROOT / 'tools/visualize.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ids = ['-U4lNtzVQ8s', '--0edUL8zmA', 'plain']  # real ActivityNet-1.3 ids have both forms
    preds = {v: [{'label': 'Surfing', 'score': 0.9, 'segment': [1.0, 4.0]}] for v in ids}
    (tmp_path / 'pred.json').write_text(json.dumps({'results': preds}))
    gt = {v: {'subset': 'validation', 'duration': 10.0, 'annotations': [{'label': 'Surfing', 'segment': [1, 5]}]}
          for v in ids}
    (tmp_path / 'gt.json').write_text(json.dumps({'database': gt}))
    args = [str(tmp_path / 'pred.json'), '--video', '-U4lNtzVQ8s', '--gt', str(tmp_path / 'gt.json'),
            '--video', '--0edUL8zmA', '--out-dir', str(tmp_path / 'vis')]
    assert tool.main(args) == 0
    assert sorted(p.name for p in (tmp_path / 'vis').iterdir()) == ['--0edUL8zmA.png', '-U4lNtzVQ8s.png']
