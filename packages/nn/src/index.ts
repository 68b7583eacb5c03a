/**
 * `@gradfolio/nn`: modules, layers, losses, init and PyTorch weight interop for gradfolio.
 *
 * @packageDocumentation
 */

export {};
