/** Loading bundle folders: the manifest, its ONNX files, and a check that every declared name exists. */
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import type { LoadedExtractor, LoadedPrior } from '../guidance/compose.ts';
import { ioName } from '../guidance/compose.ts';
import { loadModel } from '../onnx/index.ts';
import type { Model } from '../onnx/index.ts';
import type { ModelRef } from './bundle.ts';
import { readBundleManifest } from './bundle.ts';

function checkRef(model: Model, ref: ModelRef, field: string): void {
  ioName(model, 'input', ref.input, `${field}.input`);
  ioName(model, 'output', ref.output, `${field}.output`);
}

export async function loadPriorBundle(dir: string): Promise<LoadedPrior> {
  const manifest = await readBundleManifest(dir);
  if (manifest.kind !== 'prior') throw new InputError(dir, `expected a prior bundle, got an ${manifest.kind}`);
  const denoiser = loadModel(join(dir, manifest.denoiser.file));
  ioName(denoiser, 'input', manifest.denoiser.input, 'denoiser.input');
  ioName(denoiser, 'input', manifest.denoiser.timestep, 'denoiser.timestep');
  ioName(denoiser, 'output', manifest.denoiser.output, 'denoiser.output');
  const loaded: LoadedPrior = { manifest, denoiser };
  if (manifest.latent) {
    loaded.decoder = loadModel(join(dir, manifest.latent.decoder.file));
    checkRef(loaded.decoder, manifest.latent.decoder, 'latent.decoder');
    if (manifest.latent.encoder) {
      loaded.encoder = loadModel(join(dir, manifest.latent.encoder.file));
      checkRef(loaded.encoder, manifest.latent.encoder, 'latent.encoder');
    }
  }
  return loaded;
}

export async function loadExtractorBundle(dir: string): Promise<LoadedExtractor> {
  const manifest = await readBundleManifest(dir);
  if (manifest.kind !== 'extractor') throw new InputError(dir, `expected an extractor bundle, got a ${manifest.kind}`);
  const model = loadModel(join(dir, manifest.model.file));
  checkRef(model, manifest.model, 'model');
  return { manifest, model };
}
