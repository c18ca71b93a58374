// Lets a child node process run the TypeScript sources directly (the crash test's writer), the way ts-jest
// does for the specs: each .ts file is transpiled to CommonJS on require, without type checking (tsc does that).
const { readFileSync } = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
