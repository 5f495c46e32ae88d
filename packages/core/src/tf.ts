/**
 * The one TensorFlow.js namespace every convlab package uses: core ops + layers + converter, the cpu
 * backend registered. Importing '@tensorflow/tfjs' instead would also pull in webgl and print a banner.
 * Importing tfjs-layers also matters for autodiff: tfjs-core's Node entry registers no gradients, and
 * tf.grad through an op fails with "gradient function not found" until something (layers) does.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export const tf = { ...tfc, ...tfl } as typeof tfc & typeof tfl;
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Scalar, Variable } from '@tensorflow/tfjs-core';
export type { LayersModel } from '@tensorflow/tfjs-layers';
