// `npm start`: the studio demo on the bundled samples (see apps/studio).
import '../apps/studio/src/cli.js';
