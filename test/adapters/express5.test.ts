import express from 'express'
import { startExpress } from './express-app.js'
import { describeAdapter } from './suite.js'

describeAdapter('express 5', startExpress(express))
