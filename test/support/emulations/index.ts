// Loopback emulations of real inference servers' teacher-forcing behaviour.
// Facts and sources: servers.md beside this file (copied into each module's header).

export * from './core';
export { startVllm, VLLM_NEG_INF_CLAMP, vllmTokenStrings, type VllmOptions } from './vllm';
export { startFireworks, type FireworksOptions } from './fireworks';
export { startTogether, type TogetherOptions } from './together';
export { startTgi, TGI_MAX_NEW_TOKENS_ERROR, type TgiOptions } from './tgi';
export { startLlamaCpp, type LlamaCppOptions } from './llamacpp';
export { startNoisy, type NoisyOptions } from './noisy';
