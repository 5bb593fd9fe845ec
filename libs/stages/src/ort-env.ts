/**
 * Imported by every module of this lib that creates an onnxruntime session. onnxruntime-node 1.30
 * on Linux otherwise starts a telemetry thread that looks up mobile.events.data.microsoft.com
 * through the host's resolver every ~2 s — traffic that must not leave the machine. ORT reads the
 * variable when it creates its environment (the first session), so setting it here covers every
 * process that reaches ORT through our libs, and the processes they fork; an operator's own value wins.
 */
process.env['ORT_DISABLE_TELEMETRY'] ??= '1';
