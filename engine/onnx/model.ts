import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, normalize } from 'node:path';
import { InputError } from '../errors.ts';
import { onnx, toNumber } from './proto.ts';
import type { OnnxTypes } from './proto.ts';
import type { Dim, Graph, Model, Tensor, ValueInfo } from './ir.ts';
import { externalRef, tensorFromProto, tensorToProto } from './tensor-proto.ts';
import { checkTopology, sortTopologically } from './topology.ts';

export interface DecodeOptions {
  /** Folder that external-data locations are relative to (the model file's folder). */
  baseDir?: string;
  /** Names the source in error messages. */
  source?: string;
}

function valueInfoFromProto(v: OnnxTypes.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  const shape: Dim[] | null = tt?.shape
    ? (tt.shape.dim ?? []).map((d) =>
        d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0
          ? toNumber(d.dimValue)
          : d.dimParam
            ? d.dimParam
            : null,
      )
    : null;
  return { name: v.name ?? '', dataType: tt?.elemType ?? 0, shape };
}

function valueInfoToProto(v: ValueInfo): OnnxTypes.IValueInfoProto {
  if (!v.dataType) return { name: v.name };
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.dataType,
        ...(v.shape
          ? {
              shape: {
                dim: v.shape.map((d) =>
                  typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {},
                ),
              },
            }
          : {}),
      },
    },
  };
}

/** Reads external-data regions, one open file per location, as views of a single read per file. */
class ExternalFiles {
  private readonly files = new Map<string, Buffer>();
  constructor(
    private readonly baseDir: string | undefined,
    private readonly source: string,
  ) {}
  read(tensorName: string, location: string, offset: number, length: number | undefined): Uint8Array {
    if (this.baseDir === undefined) {
      throw new InputError(
        this.source,
        `tensor '${tensorName}' keeps its data in '${location}'; load the model from a file path so that external data can be found`,
      );
    }
    const safe = normalize(location);
    if (isAbsolute(safe) || safe.startsWith('..')) {
      throw new InputError(
        this.source,
        `tensor '${tensorName}': external data location '${location}' must be a relative path inside the model folder`,
      );
    }
    let buf = this.files.get(safe);
    if (!buf) {
      try {
        buf = readFileSync(join(this.baseDir, safe));
      } catch (err) {
        throw new InputError(this.source, `tensor '${tensorName}': cannot read external data file '${location}'`, {
          cause: err,
        });
      }
      this.files.set(safe, buf);
    }
    const end = length === undefined ? buf.length : offset + length;
    if (end > buf.length) {
      throw new InputError(
        this.source,
        `tensor '${tensorName}': external data '${location}' has ${buf.length} bytes, needs ${end}`,
      );
    }
    return buf.subarray(offset, end);
  }
}

function tensorWithData(t: OnnxTypes.ITensorProto, ext: ExternalFiles): Tensor {
  const ref = externalRef(t);
  return ref ? tensorFromProto(t, ext.read(t.name ?? '', ref.location, ref.offset, ref.length)) : tensorFromProto(t);
}

/** Decodes an ONNX model; external data is resolved into views of the data files. */
export function decodeModel(bytes: Uint8Array, options: DecodeOptions = {}): Model {
  const source = options.source ?? 'model';
  let proto: OnnxTypes.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InputError(
      source,
      `not a readable ONNX model (${(err as Error).message}); expected an .onnx protobuf file`,
      { cause: err },
    );
  }
  const g = proto.graph;
  if (!g || (proto.opsetImport ?? []).length === 0 || ((g.node ?? []).length === 0 && (g.output ?? []).length === 0)) {
    throw new InputError(
      source,
      'not an ONNX model: no graph or no opset imports (truncated or another kind of file?)',
    );
  }
  const ext = new ExternalFiles(options.baseDir, source);
  const graph: Graph = {
    name: g.name ?? 'graph',
    nodes: (g.node ?? []).map((n) => ({
      name: n.name ?? '',
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes: [...(n.attribute ?? [])],
    })),
    inputs: (g.input ?? []).map(valueInfoFromProto),
    outputs: (g.output ?? []).map(valueInfoFromProto),
    initializers: (g.initializer ?? []).map((t) => tensorWithData(t, ext)),
    valueInfo: (g.valueInfo ?? []).map(valueInfoFromProto),
  };
  graph.nodes = sortTopologically(graph);
  const opsets: Record<string, number> = {};
  for (const o of proto.opsetImport ?? []) opsets[o.domain === 'ai.onnx' ? '' : (o.domain ?? '')] = toNumber(o.version);
  return {
    irVersion: toNumber(proto.irVersion),
    opsets,
    producerName: proto.producerName ?? '',
    producerVersion: proto.producerVersion ?? '',
    graph,
    metadata: Object.fromEntries((proto.metadataProps ?? []).map((e) => [e.key ?? '', e.value ?? ''])),
    ...((proto.functions ?? []).length ? { functions: proto.functions } : {}),
  };
}

export function loadModel(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new InputError(path, 'cannot read the model file', { cause: err });
  }
  return decodeModel(bytes, { baseDir: dirname(path), source: path });
}

export interface EncodeOptions {
  /** Write initializers of at least `threshold` bytes (default 1024) to this file, named relative to the model. */
  externalData?: { location: string; threshold?: number };
}

interface Encoded {
  model: Uint8Array;
  /** The external data file's bytes, when externalData was asked for. */
  data?: Uint8Array[];
}

function encodeParts(model: Model, options: EncodeOptions): Encoded {
  // Written sorted (the ONNX checker requires it), and never with a node reading an undefined tensor.
  const g = { ...model.graph, nodes: sortTopologically(model.graph) };
  checkTopology(g);
  const data: Uint8Array[] = [];
  let offset = 0;
  const ext = options.externalData;
  const initializer = model.graph.initializers.map((t) => {
    if (!ext || t.raw.length < (ext.threshold ?? 1024)) return tensorToProto(t);
    // Offsets aligned to 4 KiB so that runtimes may memory-map the file.
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) data.push(new Uint8Array(pad));
    offset += pad;
    const proto = tensorToProto(t, { location: ext.location, offset, length: t.raw.length });
    data.push(t.raw);
    offset += t.raw.length;
    return proto;
  });
  const proto: OnnxTypes.IModelProto = {
    irVersion: model.irVersion,
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    opsetImport: Object.entries(model.opsets).map(([domain, version]) => ({ domain, version })),
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    functions: model.functions ?? [],
    graph: {
      name: g.name,
      node: g.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: n.attributes,
      })),
      input: g.inputs.map(valueInfoToProto),
      output: g.outputs.map(valueInfoToProto),
      initializer,
      valueInfo: g.valueInfo.map(valueInfoToProto),
    },
  };
  return { model: onnx.ModelProto.encode(proto).finish(), ...(ext ? { data } : {}) };
}

/** Encodes a model with all tensor data inline (what ONNX Runtime sessions from bytes need); refuses an invalid graph. */
export function encodeModel(model: Model): Uint8Array {
  return encodeParts(model, {}).model;
}

/** Saves a model (refusing an invalid graph before anything is written); with externalData the large initializers go to a file beside it. */
export function saveModel(model: Model, path: string, options: EncodeOptions = {}): void {
  const ext = options.externalData;
  if (
    ext &&
    (isAbsolute(ext.location) || normalize(ext.location).startsWith('..') || basename(ext.location) !== ext.location)
  ) {
    throw new InputError('externalData.location', `'${ext.location}' must be a plain file name beside the model`);
  }
  const parts = encodeParts(model, options);
  if (ext && parts.data) {
    const fd = openSync(join(dirname(path), ext.location), 'w');
    try {
      for (const chunk of parts.data) {
        let written = 0;
        while (written < chunk.length) written += writeSync(fd, chunk, written);
      }
    } finally {
      closeSync(fd);
    }
  }
  writeFileSync(path, parts.model);
}
