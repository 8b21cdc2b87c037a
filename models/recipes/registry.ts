/** The built-in models, in build order (small first, so a failing recipe fails fast). */
import { largeClassifier } from './large-classifier.ts';
import { mlpClassifier } from './mlp-classifier.ts';
import type { ModelRecipe } from './recipe.ts';
import { shapesCnn } from './shapes-cnn.ts';

export const BUILT_IN_RECIPES: readonly ModelRecipe[] = [mlpClassifier, shapesCnn, largeClassifier];
