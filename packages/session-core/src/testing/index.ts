export { type ContractOptions, runSessionStoreContract, type TestApi } from './contract.js';
