#!/usr/bin/env bash
# Scaffold one workspace package: tools/make-package.sh <dir> <npm-name> "<description>"
set -euo pipefail
dir=$1; name=$2; desc=$3
mkdir -p "$dir/src" "$dir/test"
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "description": "$desc",
  "private": true,
  "type": "module",
  "exports": {
    ".": { "@convlab/source": "./src/index.ts", "types": "./dist/index.d.ts", "default": "./dist/index.js" }
  },
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "typecheck": "tsc -p tsconfig.json --noEmit",
    "test": "ava",
    "lint": "eslint src test"
  },
  "ava": {
    "extensions": { "ts": "module" },
    "nodeArguments": ["--import=tsx", "--conditions=@convlab/source"],
    "files": ["test/**/*.test.ts"],
    "timeout": "5m",
    "workerThreads": false
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "$(realpath --relative-to="$dir" tsconfig.base.json)",
  "compilerOptions": { "noEmit": true },
  "include": ["src/**/*.ts", "test/**/*.ts"]
}
JSON
cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "$(realpath --relative-to="$dir" tsconfig.base.json)",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "noEmit": false },
  "include": ["src/**/*.ts"]
}
JSON
