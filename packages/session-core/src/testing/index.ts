export { type ContractOptions, runSessionStoreContract, type TestApi, type TestFn } from './contract.js';
export {
  type BoundSessionState,
  DbscBrowser,
  type DbscBrowserEvent,
  type DbscBrowserOptions,
  type DbscTestAlgorithm,
  type DbscTestKey,
  makeDbscKey,
  signDbscProof,
} from './dbsc-browser.js';
