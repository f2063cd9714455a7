export * from './vm.js';
