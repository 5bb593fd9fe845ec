"""Shared fixture writer: JSON with one key per line and arrays of numbers kept on one line."""
import json
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))


def _dump(obj, indent):
    pad = ' ' * indent
    if isinstance(obj, dict):
        items = [f'{pad} {json.dumps(k)}: {_dump(v, indent + 1).lstrip()}' for k, v in obj.items()]
        return pad + '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return pad + '[\n' + ',\n'.join(_dump(v, indent + 1) for v in obj) + '\n' + pad + ']'
    return pad + json.dumps(obj, separators=(',', ':'))


def write_fixture(relpath, obj):
    """Writes `obj` to ROOT/relpath (repr-exact floats, so float32 values round-trip)."""
    path = os.path.join(ROOT, relpath)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(_dump(obj, 0) + '\n')
    print('wrote', relpath, os.path.getsize(path), 'bytes')
