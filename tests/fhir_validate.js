// A second, independent FHIR R4 validator (FHIR.js, the npm package `fhir`): reads each file given, prints one JSON
// line per file with its errors. Run by tests/test_ehr_corpus.py; installed by `npm ci` (package-lock.json).
const fs = require('fs');
const {Fhir} = require('fhir');

const fhir = new Fhir();
for (const file of process.argv.slice(2)) {
  const result = fhir.validate(JSON.parse(fs.readFileSync(file, 'utf8')), {errorOnUnexpected: true});
  const errors = result.messages.filter((m) => m.severity === 'error').map((m) => `${m.location}: ${m.message}`);
  console.log(JSON.stringify({file, valid: result.valid, errors}));
}
