"""zeetad's registries, children of mmengine's root registries.

Each child names the package that holds its members (``locations``), so a config
with ``default_scope='zeetad'`` builds zeetad components without anyone having
imported them first, and plain mmengine components (optimizers, schedulers,
hooks, loops) still resolve through the parent.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

RUNNERS = Registry('runner', parent=MMENGINE_RUNNERS, locations=['zeetad.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['zeetad.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['zeetad.engine', 'zeetad.visualization'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, locations=['zeetad.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, locations=['zeetad.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, locations=['zeetad.datasets.transforms'])
FUNCTIONS = Registry('function', parent=MMENGINE_FUNCTIONS, locations=['zeetad.datasets'])
MODELS = Registry('model', parent=MMENGINE_MODELS,
                  locations=['zeetad.models', 'zeetad.zeal', 'zeetad.text', 'zeetad.video'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, locations=['zeetad.engine'])
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, locations=['zeetad.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, locations=['zeetad.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, locations=['zeetad.evaluation.tad_metric'])
OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, locations=['zeetad.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, locations=['zeetad.engine'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, locations=['zeetad.evaluation.tad_metric'])
LOG_PROCESSORS = Registry('log_processor', parent=MMENGINE_LOG_PROCESSORS, locations=['zeetad.engine'])
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, locations=['zeetad.models'])
# Readers of a feature-stream config's ``format`` (npy folder, HDF5 file, ...) and of ``ann_format``.
FEATURE_STORES = Registry('feature store', locations=['zeetad.datasets.feature_store'])
ANNOTATION_LOADERS = Registry('annotation loader', locations=['zeetad.datasets.annotations'])
# Visualisation (timelines, AP plots, TensorBoard) lives in zeetad.visualization.
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, locations=['zeetad.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, locations=['zeetad.visualization'])
