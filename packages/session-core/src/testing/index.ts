export { type ContractOptions, runSessionStoreContract, type TestApi, type TestFn } from './contract.js';
