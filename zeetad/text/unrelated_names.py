"""Everyday action names unrelated to any benchmark's classes: distractor names for the many-names benchmark
(``tools/experiments/run_naming.py``) and the other text of the shuffled-names control with one typed name."""

UNRELATED_ACTION_NAMES = (
    'washing dishes', 'typing on a keyboard', 'walking the dog', 'brushing teeth', 'folding laundry',
    'watering plants', 'reading a newspaper', 'tying shoelaces', 'peeling potatoes', 'ironing a shirt',
    'vacuuming the floor', 'making a bed', 'pouring coffee', 'changing a light bulb', 'knitting a scarf',
    'shaving a beard', 'sweeping leaves', 'wrapping a present', 'painting a fence', 'feeding a cat',
    'playing the piano', 'playing chess', 'juggling balls', 'solving a puzzle', 'taking a selfie',
    'blowing out candles', 'opening an umbrella', 'hanging a picture', 'washing a car', 'mowing the lawn',
    'chopping onions', 'kneading dough', 'frying an egg', 'slicing bread', 'stirring soup',
    'drinking from a cup', 'eating noodles', 'applying lipstick', 'combing hair', 'putting on a jacket',
    'sewing a button', 'writing on a whiteboard', 'shuffling cards', 'flipping pancakes', 'setting a table',
    'cleaning a window', 'carrying groceries', 'locking a door', 'talking on the phone', 'rowing a canoe',
    'building a sandcastle', 'flying a kite', 'walking on stilts', 'milking a cow', 'grooming a horse',
    'planting a tree', 'shoveling snow', 'pumping a bicycle tire', 'assembling furniture', 'playing the harmonica',
)
