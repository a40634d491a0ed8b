// Node-RED loads a node's runtime from beside its editor file: this is the compiled TypeScript (npm run build).
module.exports = require('../../dist/nodes/cer-rules/cer-rules.js');
